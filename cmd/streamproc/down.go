package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

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
			// The table store's lock is held by every running stack.
			if s, err := table.Open(filepath.Join(g.dataDir, "tables"), table.Options{Logger: m.logger(g)}); err != nil {
				return fmt.Errorf("%s is in use (stop streamproc up first): %w", g.dataDir, err)
			} else {
				s.Close()
			}
			files, bytes := 0, int64(0)
			_ = filepath.WalkDir(g.dataDir, func(_ string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					files++
					if fi, err := d.Info(); err == nil {
						bytes += fi.Size()
					}
				}
				return nil
			})
			if !purge {
				fmt.Fprintf(m.Stdout, "%s holds %d files (%.1f MB); run 'streamproc down --purge' to delete them\n", g.dataDir, files, float64(bytes)/(1<<20))
				return nil
			}
			if err := os.RemoveAll(g.dataDir); err != nil {
				return fmt.Errorf("remove %s: %w", g.dataDir, err)
			}
			fmt.Fprintf(m.Stdout, "removed %s (%d files, %.1f MB)\n", g.dataDir, files, float64(bytes)/(1<<20))
			return nil
		},
	}
	cmd.Flags().BoolVar(&purge, "purge", false, "delete the data dir")
	return cmd
}
