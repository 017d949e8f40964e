//go:build !unix

package backupcodes

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
