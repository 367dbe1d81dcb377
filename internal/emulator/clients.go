package emulator

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// Region is the region every emulator client uses. kinesalite and dynalite
// accept any region; s3rver ignores it; moto keeps one state per region.
const Region = "us-east-1"

// S3rverKey is the only access key id (and secret) s3rver accepts.
const S3rverKey = "S3RVER"

// fakeCreds are static so the SDK never looks at the environment, shared
// config files or instance metadata of the machine running the tests.
func fakeCreds() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider("AKIDEMULATOR", "emulator-secret", "")
}

// KinesisClient returns a Kinesis client for the endpoint from Kinesalite.
// opts are applied last, e.g. to disable retries.
func KinesisClient(endpoint string, opts ...func(*kinesis.Options)) *kinesis.Client {
	o := kinesis.Options{
		Region:       Region,
		Credentials:  fakeCreds(),
		BaseEndpoint: aws.String(endpoint),
	}
	for _, f := range opts {
		f(&o)
	}
	return kinesis.New(o)
}

// DynamoDBClient returns a DynamoDB client for the endpoint from Dynalite.
func DynamoDBClient(endpoint string, opts ...func(*dynamodb.Options)) *dynamodb.Client {
	o := dynamodb.Options{
		Region:       Region,
		Credentials:  fakeCreds(),
		BaseEndpoint: aws.String(endpoint),
	}
	for _, f := range opts {
		f(&o)
	}
	return dynamodb.New(o)
}

// S3Client returns an S3 client for the endpoint from S3rver: path-style
// addressing and the S3RVER credentials, which s3rver requires.
func S3Client(endpoint string, opts ...func(*s3.Options)) *s3.Client {
	o := s3.Options{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider(S3rverKey, S3rverKey, ""),
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		// s3rver returns no checksums, and the SDK would log that it
		// skipped validating them on every GetObject.
		DisableLogOutputChecksumValidationSkipped: true,
		ResponseChecksumValidation:                aws.ResponseChecksumValidationWhenRequired,
	}
	for _, f := range opts {
		f(&o)
	}
	return s3.New(o)
}

// SSMClient returns an SSM client for the endpoint from Moto.
func SSMClient(endpoint string, opts ...func(*ssm.Options)) *ssm.Client {
	o := ssm.Options{
		Region:       Region,
		Credentials:  fakeCreds(),
		BaseEndpoint: aws.String(endpoint),
	}
	for _, f := range opts {
		f(&o)
	}
	return ssm.New(o)
}
