//go:build !unix

package trust_test

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
