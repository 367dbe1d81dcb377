//go:build !unix

package synthetic

import "time"

// cpuTime is unavailable here: benchmarks report wall-clock rates only.
func cpuTime() (time.Duration, bool) { return 0, false }
