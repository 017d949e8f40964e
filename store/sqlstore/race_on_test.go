//go:build race

package sqlstore_test

// raceEnabled: the race detector slows the pure-Go SQLite engine about
// tenfold and every client-side step of the server stores, so under it the
// race tests run fewer rounds (still 64 goroutines each) to keep the
// package's tests to seconds.
const raceEnabled = true
