package redisstore

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/twofactorkit/twofactor/internal/testenv"
)

// scriptClient returns a client of a Redis server of the test's own,
// started from the installed redis-server and stopped when the test
// ends, for the tests that empty the server's script cache (SCRIPT
// FLUSH) or count round trips: on the shared server the first would cost
// every other client of it (an app, the load test, another package's
// tests) a reload of its scripts, and their loads would change the
// second's counts. Without redis-server it is a client of the shared
// server, as before, except in CI, where that fails the test.
func scriptClient(t testing.TB) *redis.Client {
	t.Helper()
	server, err := exec.LookPath("redis-server")
	if err != nil {
		if testenv.CI() {
			testenv.Missing(t, "redis-server (a Redis of the test's own)", err.Error())
		}
		t.Log("no redis-server installed: the test runs on the shared Redis, whose script cache it may empty")
		return newClient(t)
	}
	dir := t.TempDir()
	port := freeClusterPorts(t, 1)[0]
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(server, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no",
		"--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server on %d: %v", port, err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitUp(t, addr)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}
