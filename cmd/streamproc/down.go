package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/streamproc/streamproc/local/control"
	"github.com/streamproc/streamproc/local/table"
)

func (m *Main) downCmd(g *globalFlags) *cobra.Command {
	var purge bool
	cmd := &cobra.Command{
		Use:   "down [--purge]",
		Short: "Remove the local data dir safely (the seed's manual bucket-emptying step, done right)",
		Long: `Show what the data dir holds, and with --purge delete it: streams, tables,
bucket objects, queues, dead letters and checkpoints. Refuses while a
streamproc process (up, kinesis serve) is using the data dir.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info, err := os.Stat(g.dataDir)
			if errors.Is(err, os.ErrNotExist) {
				fmt.Fprintf(m.Stdout, "%s does not exist; nothing to remove\n", g.dataDir)
				return nil
			}
			if err != nil {
				return err
			}
			if !info.IsDir() {
				return fmt.Errorf("%s is not a directory", g.dataDir)
			}
			if err := ownDataDir(g.dataDir); err != nil {
				return err
			}
			running := runningStack(g.dataDir)
			if running != "" && purge {
				return fmt.Errorf("%s is in use by 'streamproc up' (Kinesis API %s): stop it (Ctrl-C) first; nothing was removed", g.dataDir, running)
			}
			// The params file is the user's and is never removed: not counted.
			params := filepath.Join(g.dataDir, "params")
			files, bytes := 0, int64(0)
			_ = filepath.WalkDir(g.dataDir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && p != params {
					files++
					if fi, err := d.Info(); err == nil {
						bytes += fi.Size()
					}
				}
				return nil
			})
			// Counted before the lock check below, which opens the store
			// (and so adds files): what down reports is what was there.
			// The table store's lock is held by every running stack; only
			// a purge needs it free.
			if _, err := os.Stat(filepath.Join(g.dataDir, "tables")); err == nil && purge {
				s, err := table.Open(filepath.Join(g.dataDir, "tables"), table.Options{Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					m.logger(g).Debug("table store lock", "error", err)
					return fmt.Errorf("%s is in use by another streamproc process (up, kinesis serve): stop it first; nothing was removed", g.dataDir)
				}
				s.Close()
			}
			if ents, _ := os.ReadDir(g.dataDir); len(ents) == 1 && ents[0].Name() == "params" {
				fmt.Fprintf(m.Stdout, "%s holds no streamproc data (only your params file, which down keeps); nothing to remove\n", g.dataDir)
				return nil
			}
			if !purge {
				fmt.Fprintf(m.Stdout, "%s holds %s (%.1f MB); run 'streamproc down --purge' to delete them\n", g.dataDir, plural(files, "file"), float64(bytes)/(1<<20))
				if running != "" {
					fmt.Fprintf(m.Stdout, "it is in use by 'streamproc up' (Kinesis API %s); stop that first\n", running)
				}
				return nil
			}
			// The params file is the user's (credentials written by hand):
			// a purge of the data streamproc wrote keeps it.
			kept := ""
			ents, err := os.ReadDir(g.dataDir)
			if err != nil {
				return err
			}
			for _, e := range ents {
				if e.Name() == "params" {
					kept = filepath.Join(g.dataDir, e.Name())
					continue
				}
				if err := os.RemoveAll(filepath.Join(g.dataDir, e.Name())); err != nil {
					return fmt.Errorf("remove %s: %w", g.dataDir, err)
				}
			}
			if kept == "" {
				if err := os.Remove(g.dataDir); err != nil {
					return fmt.Errorf("remove %s: %w", g.dataDir, err)
				}
			}
			if kept != "" {
				fmt.Fprintf(m.Stdout, "removed the streamproc data in %s (%s, %.1f MB)\n", g.dataDir, plural(files, "file"), float64(bytes)/(1<<20))
				fmt.Fprintf(m.Stdout, "kept %s (your parameters and credentials); delete it yourself if you no longer need it\n", kept)
			} else {
				fmt.Fprintf(m.Stdout, "removed %s (%s, %.1f MB)\n", g.dataDir, plural(files, "file"), float64(bytes)/(1<<20))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&purge, "purge", false, "delete the data dir")
	return cmd
}

// runningStack returns the Kinesis API address of the 'streamproc up' that
// holds dir, or "" when none answers there.
func runningStack(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, control.AddrFile))
	if err != nil {
		return ""
	}
	addr := strings.TrimSpace(string(b))
	conn, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return ""
	}
	conn.Close()
	return "http://" + addr
}

// dataDirEntries are the names streamproc writes at the top of a data dir.
var dataDirEntries = map[string]bool{
	"streams": true, "tables": true, "buckets": true, "checkpoints": true, "deadletter": true,
	"queues": true, "logs": true, "params": true, "query_history": true,
	control.AddrFile: true, kinesisStateFile: true,
}

// ownDataDir refuses to let --purge delete what streamproc did not write: a
// mistyped --data-dir (., ~, /tmp) must never be emptied. A data dir holds
// only streamproc's own entries and is neither the working directory nor one
// of its parents.
func ownDataDir(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(abs, wd); err == nil && (rel == "." || !strings.HasPrefix(rel, "..")) {
			return fmt.Errorf("%s is the working directory or one of its parents; streamproc down only removes a data dir (cd elsewhere, or give the data dir itself)", dir)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var foreign []string
	for _, e := range ents {
		if !dataDirEntries[e.Name()] {
			foreign = append(foreign, e.Name())
		}
	}
	if len(foreign) > 0 {
		if len(foreign) > 5 {
			foreign = append(foreign[:5], "…")
		}
		return fmt.Errorf("%s does not look like a streamproc data dir: it holds %s, which streamproc never writes; "+
			"nothing was removed (check --data-dir, or delete the directory yourself)", dir, strings.Join(foreign, ", "))
	}
	return nil
}

// plural is "1 file", "2 files".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}
