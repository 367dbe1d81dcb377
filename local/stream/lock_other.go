//go:build !unix

package stream

import (
	"fmt"
	"os"
)

// lockDir only creates the lock file on platforms without flock; the caller
// must not open one directory twice.
func lockDir(path string) (unlock func() error, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	return f.Close, nil
}
