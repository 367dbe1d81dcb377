package deploy

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const cfnLint = "../node_modules/.bin/cfn-lint"

// cfnLintStale lists the findings of npm cfn-lint@1.9.7 that come from its
// outdated resource specification, not from the template. Each property here
// is in CloudFormation's current specification (TestTemplateMatchesCloudFormationSpec
// checks it against @aws-cdk/aws-service-spec) or in SAM's current
// documentation (TestSAMProperties). Any other finding fails the test.
var cfnLintStale = []*regexp.Regexp{
	regexp.MustCompile(`^Invalid or unsupported SAM Globals property name: (Architectures|LoggingConfig)$`),
	regexp.MustCompile(`^Resource \w+ has an invalid Type of AWS::Athena::WorkGroup\.$`),
	regexp.MustCompile(`^StreamModeDetails is not a valid property of AWS::Kinesis::Stream$`),
	regexp.MustCompile(`^SqsManagedSseEnabled is not a valid property of AWS::SQS::Queue$`),
	regexp.MustCompile(`^BucketKeyEnabled is not a valid property of AWS::S3::Bucket\.ServerSideEncryptionRule$`),
	regexp.MustCompile(`^OwnershipControls is not a valid property of AWS::S3::Bucket$`),
	regexp.MustCompile(`^(MaximumBatchingWindowInSeconds|ParallelizationFactor|BisectBatchOnFunctionError|MaximumRetryAttempts|MaximumRecordAgeInSeconds|FunctionResponseTypes|DestinationConfig|TumblingWindowInSeconds) is not a valid property of AWS::Serverless::Function\.KinesisEvent$`),
	regexp.MustCompile(`^Description is not a valid property of AWS::Serverless::Function\.ScheduleEvent$`),
	regexp.MustCompile(`^(ErrorOutputPrefix|DataFormatConversionConfiguration) is not a valid property of AWS::KinesisFirehose::DeliveryStream\.ExtendedS3DestinationConfiguration$`),
	regexp.MustCompile(`^WorkGroup is not a valid property of AWS::Athena::NamedQuery$`),
}

var (
	ansi        = regexp.MustCompile(`\x1b\[[0-9;]*m`)
	lintMessage = regexp.MustCompile(`(?m)^Message: (.*)$`)
)

func runCfnLint(t *testing.T, path string) (messages []string, exitErr error) {
	t.Helper()
	if _, err := os.Stat(cfnLint); err != nil {
		requireTool(t, "cfn-lint", "npm ci", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	abs, _ := filepath.Abs(path)
	cmd := exec.CommandContext(ctx, "node", cfnLint, "validate", abs)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	for _, m := range lintMessage.FindAllStringSubmatch(ansi.ReplaceAllString(out.String(), ""), -1) {
		messages = append(messages, strings.TrimSpace(m[1]))
	}
	return messages, err
}

func TestCfnLint(t *testing.T) {
	msgs, _ := runCfnLint(t, templatePath)
	for _, m := range msgs {
		stale := false
		for _, re := range cfnLintStale {
			stale = stale || re.MatchString(m)
		}
		if !stale {
			t.Errorf("cfn-lint: %s", m)
		}
	}
}

// The linter really runs: a dangling !GetAtt is reported.
func TestCfnLintCatchesErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	err := os.WriteFile(bad, []byte("Transform: AWS::Serverless-2016-10-31\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt Missing.Arn\n"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	msgs, runErr := runCfnLint(t, bad)
	if runErr == nil || !strings.Contains(strings.Join(msgs, "\n"), "Missing") {
		t.Fatalf("cfn-lint accepted a dangling GetAtt: %v %q", runErr, msgs)
	}
}
