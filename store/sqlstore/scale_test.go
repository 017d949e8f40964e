package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/twofactorkit/twofactor/internal/testenv"
	"github.com/twofactorkit/twofactor/store"
)

// BenchmarkScale measures GetEnrollment and ConsumeCode latency on
// PostgreSQL with 10,000 and 1,000,000 enrolled users (one enrollment, one
// backup code and one trusted device each), and logs the query plans.
// It loads a million rows, so it runs only with TWOFACTOR_SCALE=1:
//
//	TWOFACTOR_SCALE=1 go test -run '^$' -bench Scale -v ./store/sqlstore/
func BenchmarkScale(b *testing.B) {
	if os.Getenv("TWOFACTOR_SCALE") != "1" {
		b.Skip("set TWOFACTOR_SCALE=1 to load 1,000,000 users into PostgreSQL")
	}
	db, err := sql.Open("pgx", testenv.PostgresDSN(b))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(8)
	ctx := context.Background()
	for _, users := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			s, err := New(db, Options{Dialect: Postgres, TablePrefix: fmt.Sprintf("scale%d_", users)})
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
			defer s.DropTables(ctx)
			load(b, s, users)
			b.Run("GetEnrollment", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					u := rand.IntN(users)
					if _, err := s.GetEnrollment(ctx, fmt.Sprintf("user-%d", u), "totp-1"); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("ConsumeCode", func(b *testing.B) {
				// A wrong answer on a random user's backup code: the locked
				// read plus the attempt update (MaxAttempts 0, so it never dies).
				b.ReportAllocs()
				for b.Loop() {
					u := rand.IntN(users)
					st, err := s.ConsumeCode(ctx, fmt.Sprintf("backup:user-%d", u), "c1", []byte("wrong"))
					if err != nil || st != store.CodeMismatch {
						b.Fatal(st, err)
					}
				}
			})
			b.Run("ListDevices", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.ListDevices(ctx, fmt.Sprintf("user-%d", rand.IntN(users))); err != nil {
						b.Fatal(err)
					}
				}
			})
			explain(b, s, users)
		})
	}
}

// load fills the tables with generate_series, then ANALYZE.
func load(b *testing.B, s *Store, users int) {
	ctx := context.Background()
	now := time.Now()
	stmts := []string{
		fmt.Sprintf(`INSERT INTO %[1]senrollments (user_id, id, method, label, data, created_at)
			SELECT 'user-' || g, 'totp-1', 'totp', 'Phone', decode(md5(g::text), 'hex'), %[2]d FROM generate_series(0, %[3]d) g`, s.prefix, now.UnixMicro(), users-1),
		fmt.Sprintf(`INSERT INTO %[1]scodes (grp, k, hash, expires_at, max_attempts, attempts)
			SELECT 'backup:user-' || g, 'c1', decode(md5(g::text), 'hex'), NULL, 0, 0 FROM generate_series(0, %[2]d) g`, s.prefix, users-1),
		fmt.Sprintf(`INSERT INTO %[1]sdevices (id, user_id, label, ip, user_agent, created_at, expires_at, last_seen_at)
			SELECT 'dev-' || g, 'user-' || g, 'Firefox', '', '', %[2]d, %[3]d, %[2]d FROM generate_series(0, %[4]d) g`, s.prefix, now.UnixMicro(), now.Add(30*24*time.Hour).UnixMicro(), users-1),
		// One challenge per user, 1% of them already expired.
		fmt.Sprintf(`INSERT INTO %[1]sstates (k, v, expires_at)
			SELECT 'challenge:' || g, '\x00'::bytea, CASE WHEN g %% 100 = 0 THEN %[2]d ELSE %[3]d END FROM generate_series(0, %[4]d) g`,
			s.prefix, now.Add(-time.Hour).UnixMicro(), now.Add(24*time.Hour).UnixMicro(), users-1),
		`ANALYZE`,
	}
	start := time.Now()
	for _, q := range stmts {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("loaded %d users in %s", users, time.Since(start).Round(time.Millisecond))
}

// explain logs the plan of each query the store runs, with the arguments a
// real call would pass.
func explain(b *testing.B, s *Store, users int) {
	ctx := context.Background()
	u := fmt.Sprintf("user-%d", users/2)
	now := time.Now().UnixMicro()
	plans := []struct {
		name string
		q    string
		args []any
	}{
		{"GetEnrollment", s.q.getEnrollment, []any{u, "totp-1"}},
		{"ListEnrollments", s.q.listEnrollments, []any{u}},
		{"ConsumeCode (lock)", s.q.lockCode, []any{"backup:" + u, "c1"}},
		{"ConsumeCode (attempt)", s.q.attemptCode, []any{"backup:" + u, "c1"}},
		{"CountGroup", s.q.countGroup, []any{"backup:" + u, now}},
		{"GetState", s.q.getState, []any{"challenge:1", now}},
		{"TakeState", s.q.takeState, []any{"challenge:1"}},
		{"Incr", s.q.incr, []any{"ip:1", now + 1, now, now}},
		{"Advance", s.q.advance, []any{"totp:" + u, int64(1), now, now}},
		{"GetDevice", s.q.getDevice, []any{"dev-1", now}},
		{"ListDevices", s.q.listDevices, []any{u, now}},
		{"Sweep states", s.q.sweep[0], []any{now}},
		{"Sweep devices", s.q.sweep[4], []any{now}},
	}
	var out strings.Builder
	for _, p := range plans {
		// EXPLAIN without ANALYZE: the writes are planned, not run.
		rows, err := s.db.QueryContext(ctx, "EXPLAIN "+p.q, p.args...)
		if err != nil {
			b.Fatalf("%s: %v", p.name, err)
		}
		fmt.Fprintf(&out, "\n-- %s (%d users)\n%s\n", p.name, users, p.q)
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				b.Fatal(err)
			}
			out.WriteString(line + "\n")
		}
		rows.Close()
	}
	b.Log(out.String())
}
