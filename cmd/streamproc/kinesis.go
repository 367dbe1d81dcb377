package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/streamproc/streamproc/kinesisapi"
	"github.com/streamproc/streamproc/local/stack"
	"github.com/streamproc/streamproc/local/stream"
)

// kinesisStateFile holds the API's tags, stream modes and iterator key,
// beside the engine's directory (which the engine owns entirely).
const kinesisStateFile = "kinesis-api.json"

// shutdownTimeout bounds how long in-flight requests may take to finish
// once the server is told to stop.
const shutdownTimeout = 10 * time.Second

func (m *Main) kinesisCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kinesis",
		Short: "Serve the local streams over the Kinesis API",
	}
	cmd.AddCommand(m.kinesisServeCmd(g))
	return cmd
}

type kinesisServeFlags struct {
	addr          string
	enforceLimits bool
	credentials   []string
}

func (m *Main) kinesisServeCmd(g *globalFlags) *cobra.Command {
	f := &kinesisServeFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a Kinesis-compatible HTTP endpoint over --data-dir's streams",
		Long: `Serve the streams in <data-dir>/streams over the Kinesis Data Streams API
(AWS JSON 1.1), so the AWS CLI, boto3 and the AWS SDKs work against them with
--endpoint-url. Requests must be SigV4-signed; with --credentials only those
keys are accepted and signatures are verified, otherwise any key works.
Tags and stream modes are kept in <data-dir>/` + kinesisStateFile + `.`,
		Example: `  streamproc kinesis serve
  AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \
    aws --endpoint-url http://127.0.0.1:4566 --region us-east-1 kinesis list-streams`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return m.kinesisServe(cmd.Context(), g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:4566", "address to listen on (host:port; port 0 picks a free one)")
	fl.BoolVar(&f.enforceLimits, "enforce-limits", false, "enforce Kinesis per-shard throughput limits (1,000 records/s and 1 MiB/s writes, 5 reads/s and 2 MiB/s)")
	fl.StringArrayVar(&f.credentials, "credentials", nil, "accept only this access key, as KEY:SECRET, and verify signatures (repeatable)")
	return cmd
}

// noArgs rejects positional arguments as a usage error (exit 2).
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	return nil
}

// parseCredentials turns KEY:SECRET flags into the API's credential map.
func parseCredentials(flags []string) (map[string]string, error) {
	creds := map[string]string{}
	for _, kv := range flags {
		k, s, ok := strings.Cut(kv, ":")
		if !ok || k == "" || s == "" {
			// Never echo the flag: it holds a secret.
			return nil, usagef("--credentials takes KEY:SECRET (an access key ID, a colon and its secret)")
		}
		if _, dup := creds[k]; dup {
			return nil, usagef("--credentials: access key %s given twice", k)
		}
		creds[k] = s
	}
	return creds, nil
}

func (m *Main) kinesisServe(ctx context.Context, g *globalFlags, f *kinesisServeFlags) error {
	creds, err := parseCredentials(f.credentials)
	if err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(f.addr); err != nil {
		return usagef("--addr %q: %v", f.addr, err)
	}
	log := m.logger(g)
	dir := filepath.Join(g.dataDir, "streams")
	e, err := stream.Open(dir, stream.Options{Now: m.Now, Logger: log, EnforceLimits: f.enforceLimits, Region: localRegion, Account: localAccount})
	if err != nil {
		return stack.InUse(g.dataDir, fmt.Errorf("open stream store: %w", err))
	}
	defer e.Close()
	h, err := kinesisapi.NewHandler(e, kinesisapi.Options{
		Now: m.Now, Logger: log, Credentials: creds, Region: localRegion,
		StateFile: filepath.Join(g.dataDir, kinesisStateFile),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", f.addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	m.kinesisBanner(ln.Addr(), dir, creds, f.enforceLimits)

	var wg sync.WaitGroup
	trimCtx, stopTrim := context.WithCancel(ctx)
	defer func() {
		stopTrim()
		wg.Wait()
	}()
	wg.Go(func() { _ = e.RunTrimmer(trimCtx, time.Minute) })

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return fmt.Errorf("kinesis endpoint: %w", err)
	case <-ctx.Done():
	}
	log.Info("kinesis endpoint shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("kinesis endpoint shutdown: %w", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("kinesis endpoint: %w", err)
	}
	return nil
}

// kinesisBanner prints where the endpoint is and a command to try it, and
// warns when it is reachable from other machines without authentication.
func (m *Main) kinesisBanner(addr net.Addr, dir string, creds map[string]string, limits bool) {
	host, exposed := reachable(addr.String())
	url := "http://" + host
	mode := "any SigV4-signed request accepted"
	keyID, secret := "local", "local"
	if len(creds) > 0 {
		ids := make([]string, 0, len(creds))
		for k := range creds {
			ids = append(ids, k)
		}
		sort.Strings(ids)
		mode = "signatures verified for access key(s) " + strings.Join(ids, ", ")
		keyID, secret = ids[0], "<its secret>"
	}
	if limits {
		mode += "; per-shard throughput limits enforced"
	}
	fmt.Fprintf(m.Stdout, "Kinesis endpoint listening on %s (streams in %s, region %s; %s)\n", addr, dir, localRegion, mode)
	fmt.Fprintf(m.Stdout, "Endpoint: %s\n", url)
	fmt.Fprintf(m.Stdout, "Try: AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s aws --endpoint-url %s --region %s kinesis list-streams\n", keyID, secret, url, localRegion)
	if exposed && len(creds) == 0 {
		m.exposedWarning(addr.String())
	}
}

func (m *Main) exposedWarning(addr string) {
	fmt.Fprintf(m.Stderr, "WARNING: the Kinesis endpoint listens on %s, which other machines can reach, and accepts ANY credentials.\n"+
		"WARNING: anyone who can connect can read, write and delete every stream. Pass --credentials KEY:SECRET or bind 127.0.0.1.\n", addr)
}

// reachable is the host:port a client on this machine dials for a listener
// on addr (127.0.0.1 for an unspecified address such as [::]:4566), and
// whether other machines can reach it too.
func reachable(addr string) (hostPort string, exposed bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, true
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return addr, host != "localhost"
	}
	if ip.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", port), true
	}
	return addr, !ip.IsLoopback()
}

// loopbackOnly refuses requests from other machines: for endpoints that
// have no authentication of their own.
func loopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			http.Error(w, "this endpoint answers requests from this machine only", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}
