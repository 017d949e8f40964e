package sqlstore

import (
	"context"
	"time"
)

// MigrateTo applies the migrations up to version and no further, to build
// a database as an earlier release left it.
func (s *Store) MigrateTo(ctx context.Context, version int) error {
	ms, err := migrationsFor(s.dialect, s.prefix)
	if err != nil {
		return err
	}
	var upTo []migration
	for _, m := range ms {
		if m.version <= version {
			upTo = append(upTo, m)
		}
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	unlock, err := s.migrateLock(ctx, conn)
	if err != nil {
		return err
	}
	err = s.migrateLocked(ctx, conn, upTo)
	if uerr := unlock(err); err == nil {
		err = uerr
	}
	return err
}

// SetSweepClock makes automatic sweeping measure its interval with clock
// instead of time.Now, from the time clock reads now. Call it before the
// store's first operation.
func (s *Store) SetSweepClock(clock func() time.Time) {
	s.auto.clock = clock
	s.auto.start = clock()
	s.auto.due.Store(int64(s.auto.every))
}

// SweepSettings returns the interval and limit of automatic sweeping,
// zeros when it is off.
func (s *Store) SweepSettings() (time.Duration, int) {
	if s.auto == nil {
		return 0, 0
	}
	return s.auto.every, s.auto.limit
}

// Retryable exposes the classification of contention errors.
var Retryable = retryable

// Do runs fn as the store runs every operation: with retries.
func (s *Store) Do(ctx context.Context, op string, fn func() error) error {
	return s.do(ctx, op, fn)
}

// NeedsReadCommitted exposes the choice of a batch's isolation on MySQL.
var NeedsReadCommitted = needsReadCommitted

// UseStatementBatches makes RunBatch run a batch statement by statement:
// on PostgreSQL as before its batch function, on MySQL a request per
// statement and, on MariaDB too, the locking reads after the upserts that
// MySQL needs, for tests that compare the paths.
func (s *Store) UseStatementBatches() {
	s.statementBatches = true
	s.multi.Store(multiNo)
	s.mariadb.Store(multiNo)
}

// UseReadBack makes a MySQL store read back the rows its upserts lock and
// mark, as on MySQL, even on MariaDB, whose upserts could return them.
func (s *Store) UseReadBack() { s.mariadb.Store(multiNo) }

// Returning exposes whether s lets MariaDB's upserts return their rows.
func (s *Store) Returning(ctx context.Context) bool {
	s.probeServer(ctx)
	return s.returning()
}

// Pipelines exposes whether s sends a MySQL transaction's statements in
// as few requests as their results allow.
func (s *Store) Pipelines(ctx context.Context) bool { return s.dialect == MySQL && s.pipelines(ctx) }

// SplitSQL exposes how a migration file is cut into statements.
var SplitSQL = splitSQL

// ServerRefused exposes how an error is told to be the MySQL server's.
var ServerRefused = serverRefused
