package ssm_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/streamproc/streamproc/aws/ssm"
	"github.com/streamproc/streamproc/internal/emulator"
	"github.com/streamproc/streamproc/internal/porttest/paramstest"
)

// TestConformance runs the shared streamproc.Params suite against moto's
// Parameter Store, an independent implementation of the SSM API, with the
// real SDK client: the same bodies the local params store passes.
func TestConformance(t *testing.T) {
	endpoint := emulator.Moto(t)
	client := emulator.SSMClient(endpoint)
	paramstest.Run(t, func(t *testing.T) paramstest.Backend {
		resetMoto(t, endpoint)
		return paramstest.Backend{
			Params: ssm.New(client),
			Put: func(t *testing.T, p paramstest.Param) {
				t.Helper()
				typ := types.ParameterTypeString
				if p.Secure {
					typ = types.ParameterTypeSecureString
				}
				if _, err := client.PutParameter(context.Background(), &awsssm.PutParameterInput{
					Name: aws.String(p.Name), Value: aws.String(p.Value), Type: typ, Overwrite: aws.Bool(true),
				}); err != nil {
					t.Fatalf("PutParameter %s: %v", p.Name, err)
				}
			},
		}
	})
}

// resetMoto drops every parameter, so each subtest of a suite sharing one
// server starts from an empty store.
func resetMoto(t *testing.T, endpoint string) {
	t.Helper()
	resp, err := http.Post(endpoint+"/moto-api/reset", "application/json", nil)
	if err != nil {
		t.Fatalf("reset moto: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reset moto: %s", resp.Status)
	}
}
