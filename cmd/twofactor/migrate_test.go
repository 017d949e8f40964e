package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor/internal/testenv"
	"github.com/twofactorkit/twofactor/store/sqlstore"
)

func runMigrateCmd(args ...string) (status int, stdout, stderr string) {
	var out, errb bytes.Buffer
	status = run(append([]string{"migrate"}, args...), &out, &errb)
	return status, out.String(), errb.String()
}

func migratePrefix() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return "cli" + hex.EncodeToString(b[:]) + "_"
}

func TestMigrateCommandSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	for _, db := range []string{path, "sqlite:" + path, "file:" + path, "sqlite://" + path} {
		status, out, errs := runMigrateCmd("--db", db)
		require.Equal(t, 0, status, "stderr: %s", errs)
		assert.Empty(t, errs)
		if db == path {
			assert.Equal(t, fmt.Sprintf("sqlite tables twofactor_* migrated from schema version 0 to %d\n", sqlstore.LatestVersion()), out)
		} else {
			assert.Equal(t, fmt.Sprintf("sqlite tables twofactor_* already at schema version %d\n", sqlstore.LatestVersion()), out, "second run with %q", db)
		}
	}
	status, out, _ := runMigrateCmd("--db", path, "--dialect", "sqlite", "--prefix", "other_")
	require.Equal(t, 0, status)
	assert.Contains(t, out, fmt.Sprintf("other_* migrated from schema version 0 to %d", sqlstore.LatestVersion()))

	sdb, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer sdb.Close()
	for _, prefix := range []string{"twofactor_", "other_"} {
		st, err := sqlstore.New(sdb, sqlstore.Options{Dialect: sqlstore.SQLite, TablePrefix: prefix})
		require.NoError(t, err)
		v, err := st.Version(context.Background())
		require.NoError(t, err)
		assert.Equal(t, sqlstore.LatestVersion(), v, prefix)
	}
}

func TestMigrateCommandPostgres(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	prefix := migratePrefix()
	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	st, err := sqlstore.New(db, sqlstore.Options{Dialect: sqlstore.Postgres, TablePrefix: prefix})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.DropTables(context.Background())) })
	if err := db.Ping(); err != nil {
		testenv.Missing(t, "PostgreSQL", err.Error())
	}

	status, out, errs := runMigrateCmd("--db", dsn, "--prefix", prefix)
	require.Equal(t, 0, status, "stderr: %s", errs)
	assert.Equal(t, fmt.Sprintf("postgres tables %s* migrated from schema version 0 to %d\n", prefix, sqlstore.LatestVersion()), out)
	status, out, _ = runMigrateCmd("--db", dsn, "--prefix", prefix, "--dialect", "postgres")
	require.Equal(t, 0, status)
	assert.Contains(t, out, fmt.Sprintf("already at schema version %d", sqlstore.LatestVersion()))
	v, err := st.Version(context.Background())
	require.NoError(t, err)
	assert.Equal(t, sqlstore.LatestVersion(), v)
}

func TestMigrateCommandMySQLURL(t *testing.T) {
	got, err := parseStoreTarget("mysql://root:secret@db.internal/app?tls=true", "")
	require.NoError(t, err)
	assert.Equal(t, storeTarget{dialect: sqlstore.MySQL, driver: "mysql", dsn: "root:secret@tcp(db.internal:3306)/app?tls=true&interpolateParams=true&multiStatements=true"}, got)
	got, err = parseStoreTarget("root:@tcp(127.0.0.1:3306)/test", "")
	require.NoError(t, err)
	assert.Equal(t, sqlstore.MySQL, got.dialect)
	assert.Equal(t, "root:@tcp(127.0.0.1:3306)/test", got.dsn)
	got, err = parseStoreTarget("host=localhost dbname=app", "")
	require.NoError(t, err)
	assert.Equal(t, sqlstore.Postgres, got.dialect)
	got, err = parseStoreTarget("postgresql://u@h/db", "")
	require.NoError(t, err)
	assert.Equal(t, storeTarget{dialect: sqlstore.Postgres, driver: "pgx", dsn: "postgresql://u@h/db"}, got)
}

func TestMigrateCommandBadInput(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no --db", nil, "--db is required"},
		{"empty --db", []string{"--db", " "}, "--db is required"},
		{"unknown scheme", []string{"--db", "oracle://x/y"}, `unknown scheme "oracle"`},
		{"unknown dialect", []string{"--db", filepath.Join(dir, "a.db"), "--dialect", "oracle"}, `--dialect "oracle"`},
		{"bad prefix", []string{"--db", filepath.Join(dir, "a.db"), "--prefix", "Bad-Prefix"}, "--prefix"},
		{"malformed postgres URL", []string{"--db", "postgres://u:pw@h:notaport/db"}, "invalid port"},
		{"malformed redis URL", []string{"--db", "redis://h:6379/abc"}, "invalid database number"},
		{"dialect with redis", []string{"--db", "redis://h:6379/0", "--dialect", "postgres"}, "--dialect is for SQL"},
		{"mysql URL without database", []string{"--db", "mysql://root@localhost"}, "needs a database name"},
		{"sqlite path with ?", []string{"--db", "file:x.db?mode=ro"}, "without ? or #"},
		{"unknown flag", []string{"--db", "x.db", "--force"}, "flag provided but not defined"},
		{"extra argument", []string{"--db", "x.db", "now"}, `unexpected argument "now"`},
		{"bad timeout", []string{"--db", "x.db", "--timeout", "-1s"}, "--timeout must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, errs := runMigrateCmd(tt.args...)
			assert.Equal(t, 2, status)
			assert.Empty(t, out)
			assert.Contains(t, errs, tt.want)
			assert.True(t, strings.HasPrefix(errs, "twofactor migrate: "), errs)
			assert.Equal(t, 1, strings.Count(errs, "\n"), "one line: %q", errs)
		})
	}
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	assert.Empty(t, files, "bad input creates no database")
}

func TestMigrateCommandPasswordNotEchoed(t *testing.T) {
	status, _, errs := runMigrateCmd("--db", "mysql://root:hunter2@localhost")
	assert.Equal(t, 2, status)
	assert.NotContains(t, errs, "hunter2")
}

func TestMigrateCommandDatabaseDown(t *testing.T) {
	// Port 1 on loopback refuses connections at once.
	for _, db := range []string{"postgres://postgres:pw@127.0.0.1:1/test?sslmode=disable&connect_timeout=2", "redis://:pw@127.0.0.1:1/0"} {
		status, out, errs := runMigrateCmd("--db", db, "--timeout", "5s")
		assert.Equal(t, 3, status, db)
		assert.Empty(t, out)
		assert.True(t, strings.HasPrefix(errs, "twofactor migrate: "), errs)
		assert.Equal(t, 1, strings.Count(errs, "\n"), "one line: %q", errs)
		assert.NotContains(t, errs, ":pw@")
	}
}

func TestMigrateCommandRedis(t *testing.T) {
	addr := testenv.RedisAddr(t)
	status, out, errs := runMigrateCmd("--db", "redis://"+addr+"/0")
	require.Equal(t, 0, status, errs)
	assert.Contains(t, out, "needs no migration")
}

func TestMigrateCommandDBFromEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "env.db")
	t.Setenv("TWOFACTOR_DB", "sqlite:"+path)
	status, out, errs := runMigrateCmd()
	require.Equal(t, 0, status, errs)
	assert.Contains(t, out, "migrated from schema version 0")
}

func TestMigrateCommandHelp(t *testing.T) {
	status, out, errs := runMigrateCmd("-h")
	assert.Equal(t, 0, status)
	assert.Empty(t, errs)
	for _, want := range []string{"usage: twofactor migrate --db DSN", "postgres://", "mysql://", "-prefix", "-dialect", "Exit status"} {
		assert.Contains(t, out, want)
	}
	var help bytes.Buffer
	run([]string{"help"}, &help, &help)
	assert.Contains(t, help.String(), "migrate")
}

// FuzzParseMigrateTarget checks that any --db and --dialect either fail
// with an error or give a target of a known kind (a SQL dialect, or Redis),
// without panicking, and that a SQLite target is a plain path.
func FuzzParseMigrateTarget(f *testing.F) {
	f.Add("postgres://u:p@h:5432/db?sslmode=disable", "")
	f.Add("mysql://root@localhost/test", "")
	f.Add("root:@tcp(127.0.0.1:3306)/test", "mysql")
	f.Add("file:app.db", "")
	f.Add("sqlite:///var/lib/app.db", "sqlite")
	f.Add("mysql://%zz@h/db", "")
	f.Add("://", "postgres")
	f.Add("redis://u:p@cache:6379/2", "")
	f.Add("rediss://cache", "")
	f.Fuzz(func(t *testing.T, dsn, dialect string) {
		got, err := parseStoreTarget(dsn, dialect)
		if err != nil {
			return
		}
		switch got.dialect {
		case sqlstore.SQLite:
			if got.dsn == "" || strings.ContainsAny(got.dsn, "?#") {
				t.Fatalf("SQLite path %q from %q", got.dsn, dsn)
			}
		case sqlstore.Postgres, sqlstore.MySQL:
			if got.driver == "" || got.dsn == "" {
				t.Fatalf("target %+v from %q", got, dsn)
			}
		case "":
			if got.redis == nil || got.redis.Addr == "" {
				t.Fatalf("target %+v from %q", got, dsn)
			}
		default:
			t.Fatalf("unknown dialect %q from %q, %q", got.dialect, dsn, dialect)
		}
	})
}
