package firehose

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// checkpointFile is <CheckpointDir>/<Name>.json.
type checkpointFile struct {
	DeliveryStream string                     `json:"deliveryStream"`
	StreamARN      string                     `json:"streamArn"`
	Shards         map[string]shardCheckpoint `json:"shards"`
}

// shardCheckpoint is where a shard resumes.
//
// Invariant: SequenceNumber is a record all of whose user records are durably
// in a data object, durably in an error object, or were Dropped — and so is
// every earlier record of the shard. Cursor is the position the delivery
// stream started at when it was created (LATEST then) and is used only until
// the first SequenceNumber is recorded.
type shardCheckpoint struct {
	SequenceNumber string `json:"sequenceNumber,omitempty"`
	Cursor         string `json:"cursor,omitempty"`
}

// readCheckpoint returns the checkpoint at path, or nil when there is none
// (a delivery stream being created).
func readCheckpoint(path string) (*checkpointFile, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	var cp checkpointFile
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, fmt.Errorf("checkpoint %s is corrupt (remove it to start the delivery stream again at LATEST): %w", path, err)
	}
	return &cp, nil
}

// writeCheckpoint replaces the checkpoint atomically and durably: temp file
// in the same directory, fsync, rename, fsync of the directory. A crash
// leaves either the old or the new file, never a mix.
func writeCheckpoint(path string, cp *checkpointFile) error {
	b, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	return writeFileDurable(path, append(b, '\n'))
}

func writeFileDurable(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return syncDir(dir)
}

// syncDir makes a rename or a new entry in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}
