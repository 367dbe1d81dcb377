// Package deploy holds the checks of the AWS deployment artifacts —
// template.yaml, the Makefile targets sam build calls, the Lambda bootstraps
// and the Athena named queries — run as tests, since we have no AWS account
// to deploy to in CI.
package deploy
