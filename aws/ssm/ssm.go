// Package ssm implements streamproc.Params on AWS Systems Manager Parameter
// Store with aws-sdk-go-v2.
//
// Parameter values are secrets (API keys and tokens): this package never
// puts a value into an error and logs nothing. Do not enable the SDK's
// response-body logging (ClientLogMode LogResponseWithBody) on the client
// you pass in, which would log them.
package ssm

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/streamproc/streamproc"
	"github.com/streamproc/streamproc/aws/internal/awserr"
)

var _ streamproc.Params = (*Params)(nil)

// maxNames is GetParameters' limit on names per call (the model's
// ParameterNameList max).
const maxNames = 10

// Params reads parameters from Parameter Store. It is safe for concurrent
// use and caches nothing: a rotated secret is seen on the next Get.
type Params struct {
	client *awsssm.Client
}

// New returns a Params using client.
func New(client *awsssm.Client) *Params {
	return &Params{client: client}
}

// Get returns the values of the named parameters, decrypting SecureStrings,
// keyed by the names as given (a plain name, an ARN, or a name with a
// :version or :label selector). It calls GetParameters with up to 10 names
// at a time. Every name must exist: the missing ones, all of them, are named
// in a single error wrapping streamproc.ErrNotFound. Service failures wrap
// ErrUnavailable (throttling, 5xx, network) or ErrInvalid
// (ValidationException such as a name with inner spaces, InvalidKeyId).
func (p *Params) Get(ctx context.Context, names ...string) (map[string]string, error) {
	wanted := make([]string, 0, len(names))
	for _, n := range names {
		if !slices.Contains(wanted, n) {
			wanted = append(wanted, n)
		}
	}
	values := make(map[string]string, len(wanted))
	var missing []string
	for chunk := range slices.Chunk(wanted, maxNames) {
		out, err := p.client.GetParameters(ctx, &awsssm.GetParametersInput{
			Names:          chunk,
			WithDecryption: aws.Bool(true),
		})
		if err != nil {
			return nil, awserr.Wrap("ssm GetParameters "+quoteAll(chunk), err)
		}
		for _, name := range chunk {
			v, ok := find(out.Parameters, name)
			if !ok {
				// Covers the names in InvalidParameters and, defensively,
				// any name the answer is silent about.
				missing = append(missing, name)
				continue
			}
			values[name] = v
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("ssm: %w: %d of %d parameters do not exist: %s",
			streamproc.ErrNotFound, len(missing), len(wanted), quoteAll(missing))
	}
	return values, nil
}

// find returns the value answering the requested name. The answer's order
// is not the request's (AWS sorts by name), and a parameter asked for by ARN
// or with a selector comes back under its plain Name.
func find(params []types.Parameter, requested string) (string, bool) {
	for _, p := range params {
		name := aws.ToString(p.Name)
		switch requested {
		case name, aws.ToString(p.ARN):
			return aws.ToString(p.Value), true
		}
		// The model documents Selector as "version or label"; accept it with
		// or without its leading colon.
		if sel := strings.TrimPrefix(aws.ToString(p.Selector), ":"); sel != "" && requested == name+":"+sel {
			return aws.ToString(p.Value), true
		}
	}
	return "", false
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}
