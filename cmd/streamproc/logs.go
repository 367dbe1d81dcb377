package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/streamproc/streamproc/local/logs"
)

type logsFlags struct {
	follow bool
	since  time.Duration
	filter string
}

func (m *Main) logsCmd(g *globalFlags) *cobra.Command {
	f := &logsFlags{}
	cmd := &cobra.Command{
		Use:   "logs FUNCTION",
		Short: "Print a function's logs from the local stack, like sam logs",
		Long: `Print the structured logs a function wrote while streamproc up ran: time
(UTC), level, message and attributes, oldest first. up keeps them per
function under <data-dir>/logs/<stack>-<Function>.log (JSON lines, at 10 MB
renamed to .log.1, .log.2, …, 3 files kept), so this works while up runs and
after it stopped; its console shows only their warnings and errors. The
built-in source's log is 'streamproc logs source'.

FUNCTION is a package name (consumer), a logical ID (DataStreamConsumer) or
a physical name (streamproc-DataStreamConsumer). As with sam logs, only the
last 10 minutes are shown unless --since says otherwise (0 = everything).`,
		Example: `  streamproc logs consumer
  streamproc logs consumer --follow --filter dead-lettered
  streamproc logs TrendingHashtags --since 1h`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return m.logs(cmd.Context(), g, f, args[0]) },
	}
	fl := cmd.Flags()
	fl.BoolVarP(&f.follow, "follow", "f", false, "keep printing new entries until interrupted")
	f.since = 10 * time.Minute
	fl.Var((*daysDuration)(&f.since), "since", "only entries newer than this: 90s, 10m, 2h, 1d (0 = all)")
	fl.StringVar(&f.filter, "filter", "", "only entries whose printed line contains this text")
	return cmd
}

func (m *Main) logs(ctx context.Context, g *globalFlags, f *logsFlags, name string) error {
	if f.since < 0 {
		return usagef("--since must not be negative")
	}
	fn, err := m.logName(g, name)
	if err != nil {
		return err
	}
	// A mistyped --data-dir is an error, as for the other readers (--follow
	// may wait for a stack about to start: it needs the dir only later).
	if !f.follow {
		if err := haveData(g.dataDir); err != nil {
			return err
		}
	}
	dir := filepath.Join(g.dataDir, "logs")
	opts := logs.ReadOptions{Filter: f.filter}
	if f.since > 0 {
		opts.Since = m.Now().Add(-f.since)
	}
	emit := func(e logs.Entry) error {
		_, err := fmt.Fprintln(m.Stdout, e.String())
		return err
	}
	if f.follow {
		err := logs.Follow(ctx, dir, fn, opts, 0, emit)
		if errors.Is(err, context.Canceled) {
			return nil // interrupted: the normal way to stop following
		}
		return err
	}
	files, err := logs.Files(dir, fn)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fmt.Fprintf(m.Stderr, "no logs of %s in %s yet: a function's file starts with its first line at info level or above, written when streamproc up runs it (a scheduled one at its schedule; the trending function when a window closes; 'up --debug' logs every invocation; the built-in source's log is 'streamproc logs source')\n", fn, dir)
		return nil
	}
	return logs.Read(ctx, dir, fn, opts, emit)
}

// logName resolves FUNCTION to the physical function name that names its
// log file; a name that is not in the stack but has a log file is taken
// as is.
func (m *Main) logName(g *globalFlags, name string) (string, error) {
	st, err := loadStack(g)
	if err != nil {
		return "", err
	}
	fn, err := st.function(name)
	if err == nil {
		return st.Name + "-" + fn.LogicalID, nil
	}
	if name == sourceLog {
		return name, nil // up's built-in source, not a function
	}
	if files, ferr := logs.Files(filepath.Join(g.dataDir, "logs"), name); ferr == nil && len(files) > 0 {
		return name, nil
	}
	return "", err
}

// daysDuration is a time.Duration flag that also takes whole days ("1d",
// "7d"), as sam logs users write them.
type daysDuration time.Duration

func (d *daysDuration) String() string { return time.Duration(*d).String() }

func (d *daysDuration) Type() string { return "duration" }

func (d *daysDuration) Set(s string) error {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return fmt.Errorf("%q is not a whole number of days", s)
		}
		*d = daysDuration(time.Duration(days) * 24 * time.Hour)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 90s, 10m, 2h or 1d", s)
	}
	*d = daysDuration(v)
	return nil
}
