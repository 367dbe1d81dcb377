package esm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/streamproc/streamproc"
)

// Checkpoints stores, per mapping and shard, the sequence number of the
// last record the mapping is done with: processing resumes strictly after
// it.
//
// Contract: Save is durable when it returns nil (it survives a crash of
// the process) and replaces the previous value atomically, so a Load after
// a crash returns either the old or the new value, never a torn one. Load
// returns ok=false when nothing was saved. Implementations must be safe
// for concurrent use; the Mapping never saves one shard from two
// goroutines at once and only ever saves larger sequence numbers.
type Checkpoints interface {
	Load(ctx context.Context, mapping, shardID string) (seq string, ok bool, err error)
	Save(ctx context.Context, mapping, shardID, seq string) error
}

// FileCheckpoints keeps each checkpoint in its own small file,
// <dir>/<mapping>/<shardID>.json, replaced atomically: write a temporary
// file in the same directory, fsync it, rename it over the old one, fsync
// the directory.
type FileCheckpoints struct {
	dir string

	mu sync.Mutex
	// made records mapping directories known to exist durably, so Save
	// creates and fsyncs each one once.
	made map[string]bool
}

var _ Checkpoints = (*FileCheckpoints)(nil)

// NewFileCheckpoints stores checkpoints under dir, creating it.
func NewFileCheckpoints(dir string) (*FileCheckpoints, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint dir: %w", err)
	}
	return &FileCheckpoints{dir: dir, made: map[string]bool{}}, nil
}

type checkpointFile struct {
	SequenceNumber string `json:"sequenceNumber"`
}

// Load reads the checkpoint of a mapping's shard.
func (c *FileCheckpoints) Load(ctx context.Context, mapping, shardID string) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	path, err := c.path(mapping, shardID)
	if err != nil {
		return "", false, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("load checkpoint: %w", err)
	}
	// Save never leaves a partial file behind, so a bad file is damage from
	// outside; refusing beats silently reprocessing or skipping records.
	var f checkpointFile
	if err := json.Unmarshal(b, &f); err != nil {
		return "", false, fmt.Errorf("load checkpoint %s: %w", path, err)
	}
	if f.SequenceNumber == "" {
		return "", false, fmt.Errorf("load checkpoint %s: no sequenceNumber", path)
	}
	return f.SequenceNumber, true, nil
}

// Save durably replaces the checkpoint of a mapping's shard.
func (c *FileCheckpoints) Save(ctx context.Context, mapping, shardID, seq string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	path, err := c.path(mapping, shardID)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := c.ensureDir(mapping, dir); err != nil {
		return err
	}
	b, err := json.Marshal(checkpointFile{SequenceNumber: seq})
	if err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	_, werr := tmp.Write(append(b, '\n'))
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("save checkpoint %s: %w", path, werr)
	}
	// The rename is only durable once the directory entry is.
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("save checkpoint %s: %w", path, err)
	}
	return nil
}

func (c *FileCheckpoints) ensureDir(mapping, dir string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.made[mapping] {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint dir: %w", err)
	}
	if err := syncDir(c.dir); err != nil {
		return fmt.Errorf("checkpoint dir: %w", err)
	}
	c.made[mapping] = true
	return nil
}

func (c *FileCheckpoints) path(mapping, shardID string) (string, error) {
	for _, n := range []string{mapping, shardID} {
		if !safeName(n) {
			return "", fmt.Errorf("%w: checkpoint name %q must be letters, digits, '.', '-' or '_'", streamproc.ErrInvalid, n)
		}
	}
	return filepath.Join(c.dir, mapping, shardID+".json"), nil
}

// safeName reports whether n can be used as a file name without escaping
// the directory. UUIDs and Kinesis shard IDs always can.
func safeName(n string) bool {
	if n == "" || n == "." || n == ".." {
		return false
	}
	for _, r := range n {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return false
		}
	}
	return true
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// MemoryCheckpoints keeps checkpoints in memory only: a restart starts
// again from the StartingPosition. It is what a Mapping uses when
// Options.Checkpoints is nil.
type MemoryCheckpoints struct {
	mu sync.Mutex
	m  map[[2]string]string
}

var _ Checkpoints = (*MemoryCheckpoints)(nil)

// NewMemoryCheckpoints returns an empty in-memory store.
func NewMemoryCheckpoints() *MemoryCheckpoints {
	return &MemoryCheckpoints{m: map[[2]string]string{}}
}

// Load returns the saved checkpoint.
func (c *MemoryCheckpoints) Load(ctx context.Context, mapping, shardID string) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	seq, ok := c.m[[2]string{mapping, shardID}]
	return seq, ok, nil
}

// Save replaces the checkpoint.
func (c *MemoryCheckpoints) Save(ctx context.Context, mapping, shardID, seq string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[[2]string{mapping, shardID}] = seq
	return nil
}
