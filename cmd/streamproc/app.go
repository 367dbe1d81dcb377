package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Exit codes, following SAM CLI: 0 ok, 1 the command failed, 2 bad usage.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// Main is the whole program with its I/O injected, so tests run it
// in-process.
type Main struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Getenv looks up the process environment (os.LookupEnv in production).
	Getenv func(string) (string, bool)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// usageError marks errors in how the command was called (exit 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// Run executes one command line and returns the exit code.
func (m *Main) Run(ctx context.Context, args []string) int {
	if m.Now == nil {
		m.Now = time.Now
	}
	if m.Getenv == nil {
		m.Getenv = func(string) (string, bool) { return "", false }
	}
	root := m.rootCmd()
	root.SetArgs(spreadOverrides(args))
	root.SetIn(m.Stdin)
	root.SetOut(m.Stdout)
	root.SetErr(m.Stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(m.Stderr, "Error: %v\n", err)
	var ue usageError
	// cobra reports an unknown top-level command as a plain error.
	if errors.As(err, &ue) || cmd == nil || isFlagError(err) || strings.HasPrefix(err.Error(), "unknown command ") {
		if cmd != nil {
			fmt.Fprintf(m.Stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		return exitUsage
	}
	return exitError
}

// overrideArg is a Key=Value template parameter value.
var overrideArg = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*=`)

// spreadOverrides lets --parameter-overrides take several values the way
// sam deploy does (--parameter-overrides A=1 B=2): the Key=Value words
// after the flag become one flag each.
func spreadOverrides(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		out = append(out, args[i])
		if args[i] == "--" {
			return append(out, args[i+1:]...)
		}
		if args[i] != "--parameter-overrides" || i+1 >= len(args) {
			continue
		}
		i++
		out = append(out, args[i])
		for i+1 < len(args) && overrideArg.MatchString(args[i+1]) {
			i++
			out = append(out, "--parameter-overrides", args[i])
		}
	}
	return out
}

// isFlagError recognises cobra's own usage errors (unknown flag, wrong
// argument count), which it returns as plain errors.
func isFlagError(err error) bool {
	var fe interface{ FlagError() }
	return errors.As(err, &fe)
}

// globalFlags are shared by every command that touches local state.
type globalFlags struct {
	dataDir   string
	template  string
	stackName string
	debug     bool
	// templateSet: -t was given, so a missing file is an error rather
	// than a reason to use the built-in defaults.
	templateSet bool
	// parameterOverrides are template parameter values, as sam deploy takes them.
	parameterOverrides []string
}

func (m *Main) rootCmd() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "streamproc",
		Short: "Run the AWS real-time stream-processing reference architecture on one machine",
		Long: `streamproc runs the tweet stream-processing pipeline (Kinesis → Lambda →
DynamoDB, Firehose → S3 → Athena) from one template.yaml, on AWS or locally on
embedded components with AWS's semantics.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.PersistentPreRun = func(c *cobra.Command, _ []string) { g.templateSet = c.Flags().Changed("template") }
	pf := root.PersistentFlags()
	pf.StringVar(&g.dataDir, "data-dir", ".streamproc", "directory holding the local tables, streams, bucket and dead letters")
	pf.StringVarP(&g.template, "template", "t", "template.yaml", "SAM template describing the stack (up and query need it; invoke, generate-event and table fall back to built-in defaults when it does not exist)")
	pf.StringVar(&g.stackName, "stack-name", "streamproc", "stack name used to build physical resource names (<stack>-EventData, …)")
	pf.BoolVar(&g.debug, "debug", false, "log at debug level")
	pf.StringArrayVar(&g.parameterOverrides, "parameter-overrides", nil, "template parameter values, Key=Value (repeatable), as sam deploy takes them")
	root.AddCommand(m.upCmd(g), m.downCmd(g), m.invokeCmd(g), m.generateEventCmd(g), m.tableCmd(g), m.dlqCmd(g), m.kinesisCmd(g), m.benchCmd(g), m.produceCmd(g), m.queryCmd(g), m.logsCmd(g))
	argsAreUsage(root)
	return root
}

// argsAreUsage makes a wrong number of arguments or an unknown subcommand
// a usage error (exit 2, with the --help hint) on c and every command
// under it, like a bad flag.
func argsAreUsage(c *cobra.Command) {
	if c.HasParent() && c.HasSubCommands() && c.Run == nil && c.RunE == nil {
		// A group: alone it shows its help; an unknown subcommand is a
		// usage error, with a suggestion. (The root gets that from cobra,
		// which also keeps 'help TOPIC' right there.)
		c.SuggestionsMinimumDistance = 2
		c.Args = func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
			if s := c.SuggestionsFor(args[0]); len(s) > 0 {
				msg += "; did you mean " + strings.Join(s, " or ") + "?"
			}
			return errors.New(msg)
		}
		c.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	}
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		argsAreUsage(sub)
	}
}

// logger writes function logs to stderr, as sam local does, keeping stdout
// for the response.
func (m *Main) logger(g *globalFlags) *slog.Logger {
	level := slog.LevelInfo
	if g.debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: level}))
}
