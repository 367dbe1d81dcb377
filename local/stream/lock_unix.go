//go:build unix

package stream

import (
	"fmt"
	"os"
	"syscall"
)

// lockDir takes an exclusive advisory lock on path so two engines never
// share a data directory.
func lockDir(path string) (unlock func() error, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s (is another engine using the directory?): %w", path, err)
	}
	return f.Close, nil
}
