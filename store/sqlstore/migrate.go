package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations
var migrationFiles embed.FS

// A migration is one numbered schema change of one dialect.
type migration struct {
	version int
	name    string
	stmts   []string
}

// migrationsFor returns the dialect's migrations in order, with the table
// prefix filled in.
func migrationsFor(d Dialect, prefix string) ([]migration, error) {
	dir := path.Join("migrations", string(d))
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("sqlstore: bad migration file name %q", name)
		}
		b, err := migrationFiles.ReadFile(path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, stmts: splitSQL(strings.ReplaceAll(string(b), "{{p}}", prefix))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// splitSQL drops -- comment lines and splits on semicolons outside
// dollar-quoted bodies ($fn$ ... $fn$, PostgreSQL's functions); the
// migration files have no semicolon inside a string literal.
func splitSQL(src string) []string {
	var b strings.Builder
	for _, line := range strings.Split(src, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	var out []string
	text, start, tag := b.String(), 0, ""
	for i := 0; i < len(text); i++ {
		switch {
		case text[i] == '$':
			if t := dollarTag(text[i:]); t != "" {
				if tag == "" {
					tag = t
				} else if t == tag {
					tag = ""
				}
				i += len(t) - 1
			}
		case text[i] == ';' && tag == "":
			if st := strings.TrimSpace(text[start:i]); st != "" {
				out = append(out, st)
			}
			start = i + 1
		}
	}
	if st := strings.TrimSpace(text[start:]); st != "" {
		out = append(out, st)
	}
	return out
}

// dollarTag returns the dollar-quote tag ($$ or $name$) that s starts
// with, or "".
func dollarTag(s string) string {
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '$':
			return s[:i+1]
		case c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 1 && '0' <= c && c <= '9':
		default:
			return ""
		}
	}
	return ""
}

// LatestVersion is the schema version Migrate brings a database to.
func LatestVersion() int {
	ms, err := migrationsFor(SQLite, DefaultTablePrefix)
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrateLockTimeout bounds how long Migrate waits for another instance
// that is migrating the same tables (MySQL and SQLite; on PostgreSQL ctx
// bounds it).
const migrateLockTimeout = 60 * time.Second

// Migrate creates or upgrades the store's tables to LatestVersion. It is
// explicit: New never calls it. Run it at start-up (or with `twofactor
// migrate`); running it again is a no-op, and instances starting together
// may all call it: they take a lock first (pg_advisory_lock on PostgreSQL,
// GET_LOCK on MySQL, BEGIN IMMEDIATE on SQLite), so each migration is
// applied once. Applied versions are recorded in the table
// <prefix>schema_migrations.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrationsFor(s.dialect, s.prefix)
	if err != nil {
		return err
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return wrap("migrate", err)
	}
	defer conn.Close()
	unlock, err := s.migrateLock(ctx, conn)
	if err != nil {
		return wrap("migrate: taking the migration lock", err)
	}
	err = s.migrateLocked(ctx, conn, ms)
	if uerr := unlock(err); err == nil && uerr != nil {
		err = wrap("migrate: releasing the migration lock", uerr)
	}
	return err
}

func (s *Store) versionTable() string { return s.prefix + "schema_migrations" }

func (s *Store) migrateLocked(ctx context.Context, conn *sql.Conn, ms []migration) error {
	vt := s.versionTable()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+vt+` (version INTEGER NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return wrap("migrate: creating "+vt, err)
	}
	applied, err := s.versions(ctx, conn)
	if err != nil {
		return err
	}
	insert := `INSERT INTO ` + vt + ` (version, applied_at) VALUES (?, ?)`
	if s.dialect == Postgres {
		insert = numbered(insert)
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		apply := func(ex interface {
			ExecContext(context.Context, string, ...any) (sql.Result, error)
		}) error {
			for _, st := range m.stmts {
				if _, err := ex.ExecContext(ctx, st); err != nil {
					return err
				}
			}
			_, err := ex.ExecContext(ctx, insert, m.version, s.now().UnixMicro())
			return err
		}
		if s.dialect == Postgres {
			// PostgreSQL DDL is transactional: a migration applies whole or
			// not at all.
			tx, err := conn.BeginTx(ctx, nil)
			if err != nil {
				return wrap("migrate", err)
			}
			if err := apply(tx); err != nil {
				_ = tx.Rollback()
				return wrap("migrate: "+m.name, err)
			}
			if err := tx.Commit(); err != nil {
				return wrap("migrate: "+m.name, err)
			}
			continue
		}
		// SQLite runs inside the BEGIN IMMEDIATE of the lock; MySQL commits
		// each DDL statement, and its migrations are written to be re-run.
		if err := apply(conn); err != nil {
			return wrap("migrate: "+m.name, err)
		}
	}
	return nil
}

func (s *Store) versions(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) (map[int]bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT version FROM `+s.versionTable())
	if err != nil {
		return nil, wrap("migrate: reading versions", err)
	}
	defer rows.Close()
	out := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, wrap("migrate: reading versions", err)
		}
		out[v] = true
	}
	return out, wrap("migrate: reading versions", rows.Err())
}

// Version returns the highest schema version applied to the store's
// tables, 0 when Migrate never ran.
func (s *Store) Version(ctx context.Context) (int, error) {
	var exists bool
	var err error
	switch s.dialect {
	case Postgres:
		err = s.db.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL`, s.versionTable()).Scan(&exists)
	case MySQL:
		err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) > 0 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?`, s.versionTable()).Scan(&exists)
	default:
		err = s.db.QueryRowContext(ctx, `SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?`, s.versionTable()).Scan(&exists)
	}
	if err != nil || !exists {
		return 0, wrap("version", err)
	}
	vs, err := s.versions(ctx, s.db)
	if err != nil {
		return 0, err
	}
	v := 0
	for k := range vs {
		v = max(v, k)
	}
	return v, nil
}

// lockKey names the migration lock of a table prefix.
func (s *Store) lockKey() string { return "twofactor_migrate_" + s.prefix }

// migrateLock takes the dialect's cross-process lock on conn and returns
// the function that releases it (given the migration's outcome).
func (s *Store) migrateLock(ctx context.Context, conn *sql.Conn) (func(error) error, error) {
	switch s.dialect {
	case Postgres:
		h := fnv.New64a()
		h.Write([]byte(s.lockKey()))
		key := int64(h.Sum64())
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
			return nil, err
		}
		return func(error) error {
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_, err := conn.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, key)
			if err != nil {
				discard(conn)
			}
			return err
		}, nil
	case MySQL:
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK(?, ?)`, s.lockKey(), int(migrateLockTimeout/time.Second)).Scan(&got); err != nil {
			return nil, err
		}
		if !got.Valid || got.Int64 != 1 {
			return nil, errors.New("another instance held the lock for " + migrateLockTimeout.String())
		}
		return func(error) error {
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_, err := conn.ExecContext(uctx, `SELECT RELEASE_LOCK(?)`, s.lockKey())
			if err != nil {
				discard(conn)
			}
			return err
		}, nil
	default: // SQLite
		// Wait for another migrating instance longer than for a statement,
		// and put the connection's own busy timeout back afterwards.
		var busy int64
		if err := conn.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy); err != nil {
			return nil, err
		}
		if _, err := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout = %d`, migrateLockTimeout.Milliseconds())); err != nil {
			return nil, err
		}
		if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
			discard(conn)
			return nil, err
		}
		return func(merr error) error {
			uctx := context.WithoutCancel(ctx)
			end := `COMMIT`
			if merr != nil {
				end = `ROLLBACK`
			}
			_, err := conn.ExecContext(uctx, end)
			if err == nil {
				_, err = conn.ExecContext(uctx, fmt.Sprintf(`PRAGMA busy_timeout = %d`, busy))
			}
			if err != nil {
				discard(conn)
			}
			return err
		}, nil
	}
}

// discard makes the pool close conn instead of reusing it, so a session
// lock or an open transaction that could not be ended dies with it.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
}

// DropTables removes every table of the store, the version table included,
// and on PostgreSQL its functions.
// It is for tests and for uninstalling; the data is gone for good.
func (s *Store) DropTables(ctx context.Context) error {
	names := []string{s.versionTable()}
	for _, t := range tables {
		names = append(names, s.prefix+t.name)
	}
	for _, n := range names {
		if _, err := s.db.ExecContext(ctx, `DROP TABLE IF EXISTS `+n); err != nil {
			return wrap("drop tables", err)
		}
	}
	if s.dialect != Postgres {
		return nil
	}
	for _, f := range batchFunctions {
		if _, err := s.db.ExecContext(ctx, `DROP FUNCTION IF EXISTS `+s.prefix+f); err != nil {
			return wrap("drop tables", err)
		}
	}
	return nil
}
