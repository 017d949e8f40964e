//go:build race

package redisstore

// raceEnabled: the race detector slows every client-side step about
// tenfold, so under it the multi-instance race runs fewer rounds (still 64
// goroutines each).
const raceEnabled = true
