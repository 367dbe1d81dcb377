package kinesisapi

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sync"
)

// state is what the API keeps beside the engine: per-stream tags and
// stream mode, and the token key. Entries are keyed by stream name and
// remember the stream's creation time, so a stream deleted and created again
// under the same name (possibly through another process using the engine)
// starts without the old incarnation's tags.
type state struct {
	path string // "" = memory only

	mu sync.Mutex
	f  stateFile
}

type stateFile struct {
	Version     int                     `json:"version"`
	IteratorKey []byte                  `json:"iteratorKey"`
	Streams     map[string]*streamState `json:"streams"`
}

type streamState struct {
	CreatedMs int64             `json:"createdMs"`
	Mode      string            `json:"mode,omitempty"` // "" means PROVISIONED
	Tags      map[string]string `json:"tags,omitempty"`
}

// loadState reads path, or starts a fresh state (with a new random key)
// when path is empty or does not exist yet. A fresh state is written on its
// first change, not here, so a read-only use leaves no file behind.
func loadState(path string) (*state, error) {
	st := &state{path: path}
	if path != "" {
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			if err := json.Unmarshal(b, &st.f); err != nil {
				return nil, fmt.Errorf("kinesis API state %s: %w", path, err)
			}
			if st.f.Version != 1 || len(st.f.IteratorKey) < 16 {
				return nil, fmt.Errorf("kinesis API state %s: unsupported version %d or missing key", path, st.f.Version)
			}
		case errors.Is(err, fs.ErrNotExist):
		default:
			return nil, fmt.Errorf("kinesis API state: %w", err)
		}
	}
	if st.f.IteratorKey == nil {
		st.f.Version = 1
		st.f.IteratorKey = make([]byte, 32)
		if _, err := rand.Read(st.f.IteratorKey); err != nil {
			return nil, fmt.Errorf("kinesis API state: generate key: %w", err)
		}
		if path != "" {
			// Persist the key now: iterators handed out before the first
			// tag change must survive a restart too.
			if err := st.save(); err != nil {
				return nil, err
			}
		}
	}
	if st.f.Streams == nil {
		st.f.Streams = map[string]*streamState{}
	}
	return st, nil
}

func (s *state) key() []byte { return s.f.IteratorKey }

// get returns a copy of the state of the stream incarnation created at
// createdMs (zero value when there is none).
func (s *state) get(name string, createdMs int64) streamState {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.f.Streams[name]
	if e == nil || e.CreatedMs != createdMs {
		return streamState{CreatedMs: createdMs}
	}
	return streamState{CreatedMs: e.CreatedMs, Mode: e.Mode, Tags: maps.Clone(e.Tags)}
}

// update applies fn to the stream's state and persists the result. fn may
// return an error to abandon the change.
func (s *state) update(name string, createdMs int64, fn func(*streamState) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.f.Streams[name]
	cur := streamState{CreatedMs: createdMs}
	if old != nil && old.CreatedMs == createdMs {
		cur.Mode, cur.Tags = old.Mode, maps.Clone(old.Tags)
	}
	if err := fn(&cur); err != nil {
		return err
	}
	s.f.Streams[name] = &cur
	if err := s.save(); err != nil {
		if old == nil {
			delete(s.f.Streams, name)
		} else {
			s.f.Streams[name] = old
		}
		return err
	}
	return nil
}

// drop forgets a deleted stream.
func (s *state) drop(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.f.Streams[name]
	if !ok {
		return nil
	}
	delete(s.f.Streams, name)
	if err := s.save(); err != nil {
		s.f.Streams[name] = old
		return err
	}
	return nil
}

// save writes the file atomically: temp file, fsync, rename, fsync dir.
// The caller holds mu (or is the only user, in loadState).
func (s *state) save() error {
	if s.path == "" {
		return nil
	}
	b, err := json.MarshalIndent(&s.f, "", "  ")
	if err != nil {
		return fmt.Errorf("kinesis API state: %w", err)
	}
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("kinesis API state: %w", err)
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(s.path)+".tmp*")
	if err != nil {
		return fmt.Errorf("kinesis API state: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("kinesis API state: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("kinesis API state: write: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("kinesis API state: sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("kinesis API state: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("kinesis API state: replace: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("kinesis API state: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("kinesis API state: sync dir: %w", err)
	}
	return nil
}
