//go:build !unix

package twofactorhttp_test

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
