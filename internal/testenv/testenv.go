// Package testenv finds the servers and programs that integration tests
// need. When one is missing, the test is skipped, except in CI (CI set to
// a true value), where it fails: CI must never pass by skipping.
package testenv

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// CI reports whether the tests run in CI: the CI environment variable
// holds a true value, as CI systems set it: "true", "1" or "yes" in any
// case, or another value strconv.ParseBool accepts as true ("t"), or
// "y" or "on".
func CI() bool { return isTrue(os.Getenv("CI")) }

func isTrue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "t", "true", "y", "yes", "on":
		return true
	}
	return false
}

// Missing skips t, or fails it in CI, because what is named is unavailable.
func Missing(t testing.TB, what, why string) {
	t.Helper()
	if CI() {
		t.Fatalf("%s is required in CI but unavailable: %s", what, why)
	}
	t.Skipf("%s unavailable (%s); run `make test`, which starts it", what, why)
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func reachable(t testing.TB, what, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		Missing(t, what, err.Error())
		return
	}
	c.Close()
}

// PostgresDSN returns the DSN of the test PostgreSQL database
// (TWOFACTOR_POSTGRES_DSN; default the local server, database test).
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := env("TWOFACTOR_POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	if os.Getenv("TWOFACTOR_POSTGRES_DSN") == "" {
		reachable(t, "PostgreSQL", "127.0.0.1:5432")
	}
	return dsn
}

// MySQLDSN returns the go-sql-driver DSN of the test MariaDB/MySQL database
// (TWOFACTOR_MYSQL_DSN; default root with an empty password, database test).
func MySQLDSN(t testing.TB) string {
	t.Helper()
	dsn := env("TWOFACTOR_MYSQL_DSN", "root:@tcp(127.0.0.1:3306)/test?parseTime=true&multiStatements=true&interpolateParams=true")
	if os.Getenv("TWOFACTOR_MYSQL_DSN") == "" {
		reachable(t, "MariaDB", "127.0.0.1:3306")
	}
	return dsn
}

// RedisAddr returns the address of the test Redis server
// (TWOFACTOR_REDIS_ADDR; default 127.0.0.1:6379).
func RedisAddr(t testing.TB) string {
	t.Helper()
	addr := env("TWOFACTOR_REDIS_ADDR", "127.0.0.1:6379")
	reachable(t, "Redis", addr)
	return addr
}

// Chromium returns the path of the Chromium binary for browser tests
// (TWOFACTOR_CHROMIUM; default /usr/bin/chromium).
func Chromium(t testing.TB) string {
	t.Helper()
	p := env("TWOFACTOR_CHROMIUM", "/usr/bin/chromium")
	if _, err := exec.LookPath(p); err != nil {
		Missing(t, "Chromium", err.Error())
	}
	return p
}

// ChromiumFlags are the flags every browser test starts Chromium with, plus
// a fresh --user-data-dir the caller adds.
var ChromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
}

// AxeVersion is the version of axe-core that scripts/axe.sh fetches from
// npm and Axe looks for.
const AxeVersion = "4.14.1"

// Axe returns the path of axe-core's axe.min.js, the accessibility rules
// the browser tests run on every page: TWOFACTOR_AXE, or the file
// scripts/axe.sh (run by make test) leaves in
// ${XDG_CACHE_HOME:-$HOME/.cache}/twofactor/axe-core-<AxeVersion>.
func Axe(t testing.TB) string {
	t.Helper()
	p := os.Getenv("TWOFACTOR_AXE")
	if p == "" {
		p = filepath.Join(axeCache(), "twofactor", "axe-core-"+AxeVersion, "axe.min.js")
	}
	if fi, err := os.Stat(p); err != nil || fi.IsDir() {
		why := p + " is a directory"
		if err != nil {
			why = err.Error()
		}
		if CI() {
			t.Fatalf("axe-core is required in CI but unavailable: %s; run `make axe` (npm fetches it) or set TWOFACTOR_AXE to an axe.min.js", why)
		}
		t.Skipf("axe-core unavailable (%s); run `make axe` (npm fetches it) or set TWOFACTOR_AXE to an axe.min.js", why)
	}
	return p
}

// axeCache is the cache directory scripts/axe.sh installs into:
// XDG_CACHE_HOME, else $HOME/.cache, on every system (not
// os.UserCacheDir, which differs from the script's on macOS).
func axeCache() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return d
	}
	return filepath.Join(os.Getenv("HOME"), ".cache")
}
