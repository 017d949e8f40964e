package sqlstore

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"errors"
	"time"

	"github.com/twofactorkit/twofactor/store"
)

func (s *Store) nowMicro() int64 { return s.now().UnixMicro() }

// PutState implements store.States. It clears the key's owner, so a state
// put again without one is no longer deleted by DeleteOwnedStates.
func (s *Store) PutState(ctx context.Context, key string, value []byte, expiresAt time.Time) error {
	return s.do(ctx, "put state", func() error {
		_, err := s.db.ExecContext(ctx, s.q.putState, key, blob(value), dbTime(expiresAt), nil)
		return err
	})
}

// PutOwnedState implements store.OwnedStates: the same upsert as PutState,
// which also writes the owner column, in one statement.
func (s *Store) PutOwnedState(ctx context.Context, owner, key string, value []byte, expiresAt time.Time) error {
	return s.do(ctx, "put owned state", func() error {
		_, err := s.db.ExecContext(ctx, s.q.putState, key, blob(value), dbTime(expiresAt), owner)
		return err
	})
}

// DeleteOwnedStates implements store.OwnedStates with one DELETE on the
// indexed owner column: the states filed under owner when the statement
// runs are deleted at once, and a state put again without that owner is
// not among them.
func (s *Store) DeleteOwnedStates(ctx context.Context, owner string) error {
	return s.do(ctx, "delete owned states", func() error {
		_, err := s.db.ExecContext(ctx, s.q.deleteOwned, owner)
		return err
	})
}

// GetState implements store.States.
func (s *Store) GetState(ctx context.Context, key string) ([]byte, error) {
	var (
		v     []byte
		found bool
	)
	err := s.do(ctx, "get state", func() (err error) {
		v, found, err = s.getState(ctx, s.db, key)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, store.ErrNotFound
	}
	return v, nil
}

// getState reads the value of key on q: found is false when it is missing
// or expired.
func (s *Store) getState(ctx context.Context, q querier, key string) ([]byte, bool, error) {
	op := store.Op{Kind: store.OpGetState, Key: key}
	err := s.runRead(ctx, q, &op)
	return op.Value, op.Found, err
}

// TakeState implements store.States: DELETE ... RETURNING on PostgreSQL
// and SQLite, a locking read and a delete in one transaction on MySQL.
func (s *Store) TakeState(ctx context.Context, key string) ([]byte, error) {
	var (
		v   []byte
		exp sql.NullInt64
		err error
	)
	if s.dialect == MySQL {
		err = s.tx(ctx, "take state", func(tx *sql.Tx) error {
			if err := tx.QueryRowContext(ctx, s.q.takeStateLock, key).Scan(&v, &exp); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, s.q.deleteState, key)
			return err
		})
	} else {
		err = s.do(ctx, "take state", func() error {
			return s.db.QueryRowContext(ctx, s.q.takeState, key).Scan(&v, &exp)
		})
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if !live(exp, s.nowMicro()) {
		return nil, store.ErrNotFound
	}
	return blob(v), nil
}

// TakeStateReset implements store.StateResetter in one transaction: one
// commit for the take and the resets.
func (s *Store) TakeStateReset(ctx context.Context, key string, counters []string) ([]byte, error) {
	var (
		v     []byte
		exp   sql.NullInt64
		found bool
	)
	err := s.tx(ctx, "take state and reset counters", func(tx *sql.Tx) error {
		found = false
		for _, k := range counters {
			if err := s.resetCounter(ctx, tx, k); err != nil {
				return err
			}
		}
		q := s.q.takeState
		if s.dialect == MySQL {
			q = s.q.takeStateLock
		}
		err := tx.QueryRowContext(ctx, q, key).Scan(&v, &exp)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		if s.dialect == MySQL {
			_, err = tx.ExecContext(ctx, s.q.deleteState, key)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !found || !live(exp, s.nowMicro()) {
		return nil, store.ErrNotFound
	}
	return blob(v), nil
}

// DeleteState implements store.States.
func (s *Store) DeleteState(ctx context.Context, key string) error {
	return s.do(ctx, "delete state", func() error {
		_, err := s.db.ExecContext(ctx, s.q.deleteState, key)
		return err
	})
}

// PutCode implements store.Codes.
func (s *Store) PutCode(ctx context.Context, c store.Code) error {
	return s.do(ctx, "put code", func() error { return s.putCode(ctx, s.db, c) })
}

// putCode is PutCode's statement, run on q.
func (s *Store) putCode(ctx context.Context, q querier, c store.Code) error {
	_, err := q.ExecContext(ctx, s.q.putCode, c.Group, c.Key, blob(c.Hash), dbTime(c.ExpiresAt), c.MaxAttempts)
	return err
}

// ConsumeCode implements store.Codes. The row is locked inside a
// transaction (SELECT ... FOR UPDATE; on SQLite the write lock), the hash is
// compared in constant time in Go, and the code is deleted or its attempts
// raised before the transaction commits. A failed commit is an error, never
// a match.
func (s *Store) ConsumeCode(ctx context.Context, group, key string, hash []byte) (store.CodeStatus, error) {
	var status store.CodeStatus
	err := s.tx(ctx, "consume code", func(tx *sql.Tx) error {
		var err error
		status, err = s.consumeCode(ctx, tx, group, key, hash)
		return err
	})
	if err != nil {
		return store.CodeNotFound, err
	}
	return status, nil
}

// consumeCode is ConsumeCode's work in tx, which it runs in (its row lock
// is held until tx ends); a batch runs it in the batch's transaction.
func (s *Store) consumeCode(ctx context.Context, tx querier, group, key string, hash []byte) (store.CodeStatus, error) {
	var row codeRow
	if err := query(ctx, tx, s.q.lockCode, []any{group, key}, row.scan); err != nil {
		return store.CodeNotFound, err
	}
	return s.consumeRow(ctx, tx, group, key, hash, &row)
}

// codeRow is a code's row as its locking read (lockCode) found it.
type codeRow struct {
	found            bool
	hash             []byte
	exp              sql.NullInt64
	maxAtt, attempts int
}

// scan reads the row from rows, the locking read's.
func (c *codeRow) scan(rows *sql.Rows) error {
	*c = codeRow{}
	if !rows.Next() {
		return nil
	}
	c.found = true
	return rows.Scan(&c.hash, &c.exp, &c.maxAtt, &c.attempts)
}

// consumeRow decides the consumption of the code group/key, whose row
// tx has locked and read into row, and writes what it decided in tx.
func (s *Store) consumeRow(ctx context.Context, tx querier, group, key string, hash []byte, row *codeRow) (store.CodeStatus, error) {
	if !row.found {
		return store.CodeNotFound, nil
	}
	var status store.CodeStatus
	var err error
	switch {
	case !live(row.exp, s.nowMicro()):
		status = store.CodeExpired
		_, err = tx.ExecContext(ctx, s.q.deleteCode, group, key)
	case row.maxAtt > 0 && row.attempts >= row.maxAtt:
		status = store.CodeExhausted
	case subtle.ConstantTimeCompare(row.hash, hash) == 1:
		status = store.CodeMatched
		_, err = tx.ExecContext(ctx, s.q.deleteCode, group, key)
	default:
		status = store.CodeMismatch
		_, err = tx.ExecContext(ctx, s.q.attemptCode, group, key)
	}
	return status, err
}

// DeleteCode implements store.Codes.
func (s *Store) DeleteCode(ctx context.Context, group, key string) error {
	return s.do(ctx, "delete code", func() error {
		_, err := s.db.ExecContext(ctx, s.q.deleteCode, group, key)
		return err
	})
}

// DeleteGroup implements store.CodeGroups.
func (s *Store) DeleteGroup(ctx context.Context, group string) error {
	return s.do(ctx, "delete group", func() error {
		_, err := s.db.ExecContext(ctx, s.q.deleteGroup, group)
		return err
	})
}

// CountGroup implements store.CodeGroups.
func (s *Store) CountGroup(ctx context.Context, group string) (int, error) {
	var n int
	err := s.do(ctx, "count group", func() error {
		return s.db.QueryRowContext(ctx, s.q.countGroup, group, s.nowMicro()).Scan(&n)
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Incr implements store.Counters with one upsert that also restarts an
// ended window (on MySQL, followed by a read of the locked row in the same
// transaction).
func (s *Store) Incr(ctx context.Context, key string, window time.Duration) (int64, time.Time, error) {
	now := s.now()
	nowM, resetM := now.UnixMicro(), now.Add(window).UnixMicro()
	var n, reset int64
	var err error
	if s.dialect == MySQL {
		err = s.tx(ctx, "incr", func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, s.q.incr, key, resetM, nowM, nowM); err != nil {
				return err
			}
			return tx.QueryRowContext(ctx, s.q.incrRead, key).Scan(&n, &reset)
		})
	} else {
		err = s.do(ctx, "incr", func() error {
			return s.db.QueryRowContext(ctx, s.q.incr, key, resetM, nowM, nowM).Scan(&n, &reset)
		})
	}
	if err != nil {
		return 0, time.Time{}, err
	}
	return n, time.UnixMicro(reset).UTC(), nil
}

// Peek implements store.Counters.
func (s *Store) Peek(ctx context.Context, key string) (int64, time.Time, error) {
	var v store.CounterValue
	err := s.do(ctx, "peek", func() (err error) {
		v, err = s.peek(ctx, s.db, key)
		return err
	})
	if err != nil {
		return 0, time.Time{}, err
	}
	return v.N, v.ResetAt, nil
}

// peek reads the counter key on q: the zero CounterValue when it is
// missing or its window has ended.
func (s *Store) peek(ctx context.Context, q querier, key string) (store.CounterValue, error) {
	op := store.Op{Kind: store.OpPeek, Key: key}
	err := s.runRead(ctx, q, &op)
	return op.Counter, err
}

// Decr implements store.Counters with one UPDATE that subtracts one only
// from a live counter above zero; it never creates a row and keeps the
// window.
func (s *Store) Decr(ctx context.Context, key string) error {
	return s.do(ctx, "decr", func() error {
		_, err := s.db.ExecContext(ctx, s.q.decr, key, s.nowMicro())
		return err
	})
}

// ResetCounter implements store.Counters.
func (s *Store) ResetCounter(ctx context.Context, key string) error {
	return s.do(ctx, "reset counter", func() error { return s.resetCounter(ctx, s.db, key) })
}

// resetCounter deletes the counter key on q.
func (s *Store) resetCounter(ctx context.Context, q querier, key string) error {
	_, err := q.ExecContext(ctx, s.q.resetCounter, key)
	return err
}

// MarkUsed implements store.Ledger with a conditional upsert that only
// replaces an expired mark.
func (s *Store) MarkUsed(ctx context.Context, key string, expiresAt time.Time) (bool, error) {
	return s.ledgerOp(ctx, "mark used", s.q.markUsed, key, nil, expiresAt)
}

// Advance implements store.Ledger with a conditional upsert that only
// replaces an expired or lower mark.
func (s *Store) Advance(ctx context.Context, key string, value int64, expiresAt time.Time) (bool, error) {
	return s.ledgerOp(ctx, "advance", s.q.advance, key, &value, expiresAt)
}

// ledgerOp runs ledgerWrite as an operation of its own: in a transaction
// on MySQL, where it is two statements (on a pool that pipelines, two
// requests: the upsert and its read back, then the COMMIT), as one
// statement otherwise (on MariaDB too, whose upsert returns the row: a
// statement on its own is atomic, and BEGIN and COMMIT would be two more).
func (s *Store) ledgerOp(ctx context.Context, op, stmt, key string, value *int64, expiresAt time.Time) (bool, error) {
	var won bool
	write := func(q querier) (err error) {
		won, err = s.ledgerWrite(ctx, q, stmt, key, value, expiresAt)
		return err
	}
	if s.dialect == MySQL {
		s.probeServer(ctx)
	}
	var err error
	switch {
	case s.dialect == MySQL && !s.returning() && s.pipelines(ctx):
		err = s.pipeTxWith(ctx, op, false, write)
	case s.dialect == MySQL && !s.returning():
		err = s.tx(ctx, op, func(tx *sql.Tx) error { return write(tx) })
	default:
		err = s.do(ctx, op, func() error { return write(s.db) })
	}
	return won && err == nil, err
}

// ledgerWrite runs the ledger's conditional upsert stmt (markUsed, or
// advance with value) of key on q, and reports whether it wrote the mark.
// PostgreSQL and SQLite tell through the affected-row count. On MySQL,
// whose count depends on the connection's flags, the upsert writes a
// random token only when it wins, and the row's token, compared with it,
// tells: MariaDB returns it from the upsert (RETURNING); MySQL reads it
// back, and q must then be a transaction, whose row lock (taken by the
// upsert, kept until the commit) holds the row as the upsert left it for
// the read.
func (s *Store) ledgerWrite(ctx context.Context, q querier, stmt, key string, value *int64, expiresAt time.Time) (bool, error) {
	args := []any{key}
	if value != nil {
		args = append(args, *value)
	}
	args = append(args, dbTime(expiresAt))
	if s.dialect != MySQL {
		res, err := q.ExecContext(ctx, stmt, append(args, s.nowMicro())...)
		if err != nil {
			return false, err
		}
		n, err := res.RowsAffected()
		return n == 1 && err == nil, err
	}
	var tok [16]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return false, err
	}
	var got []byte
	args = append(args, tok[:], s.nowMicro())
	if s.returning() {
		if err := query(ctx, q, stmt+" RETURNING tok", args, one(&got)); err != nil {
			return false, err
		}
		return subtle.ConstantTimeCompare(got, tok[:]) == 1, nil
	}
	if _, err := q.ExecContext(ctx, stmt, args...); err != nil {
		return false, err
	}
	if err := query(ctx, q, s.q.ledgerRead, []any{key}, one(&got)); err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, tok[:]) == 1, nil
}

// PutEnrollment implements store.Enrollments.
func (s *Store) PutEnrollment(ctx context.Context, e store.EnrollmentRecord) error {
	return s.do(ctx, "put enrollment", func() error {
		_, err := s.db.ExecContext(ctx, s.q.putEnrollment, e.UserID, e.ID, e.Method, e.Label, blob(e.Data), dbTime(e.CreatedAt), dbTime(e.LastUsedAt))
		return err
	})
}

// GetEnrollment implements store.Enrollments.
func (s *Store) GetEnrollment(ctx context.Context, userID, id string) (store.EnrollmentRecord, error) {
	e := store.EnrollmentRecord{UserID: userID, ID: id}
	var created, used sql.NullInt64
	err := s.do(ctx, "get enrollment", func() error {
		return s.db.QueryRowContext(ctx, s.q.getEnrollment, userID, id).Scan(&e.Method, &e.Label, &e.Data, &created, &used)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return store.EnrollmentRecord{}, store.ErrNotFound
	}
	if err != nil {
		return store.EnrollmentRecord{}, err
	}
	e.Data = blob(e.Data)
	e.CreatedAt, e.LastUsedAt = goTime(created), goTime(used)
	return e, nil
}

// ListEnrollments implements store.Enrollments.
func (s *Store) ListEnrollments(ctx context.Context, userID string) ([]store.EnrollmentRecord, error) {
	var out []store.EnrollmentRecord
	err := s.do(ctx, "list enrollments", func() (err error) {
		out, err = s.listEnrollments(ctx, s.db, userID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// listEnrollments reads the user's records on q: an empty slice, not nil,
// for none.
func (s *Store) listEnrollments(ctx context.Context, q querier, userID string) ([]store.EnrollmentRecord, error) {
	op := store.Op{Kind: store.OpListEnrollments, UserID: userID}
	err := s.runRead(ctx, q, &op)
	return op.Records, err
}

// runRead runs op, a plain read (Peek, GetState, ListEnrollments), on q
// and sets its result.
func (s *Store) runRead(ctx context.Context, q querier, op *store.Op) error {
	text, args, set := s.plainRead(op)
	return query(ctx, q, text, args, set)
}

// plainRead returns the statement of op, a plain read, its arguments, and
// the function that sets op's result from the statement's rows (a missing
// or expired state is Found false, a missing or ended counter zero).
func (s *Store) plainRead(op *store.Op) (string, []any, func(*sql.Rows) error) {
	switch op.Kind {
	case store.OpPeek:
		return s.q.peek, []any{op.Key, s.nowMicro()}, func(rows *sql.Rows) error {
			op.Counter = store.CounterValue{}
			if !rows.Next() {
				return nil
			}
			var n, reset int64
			if err := rows.Scan(&n, &reset); err != nil {
				return err
			}
			op.Counter = store.CounterValue{N: n, ResetAt: timeMicro(reset)}
			return nil
		}
	case store.OpGetState:
		return s.q.getState, []any{op.Key, s.nowMicro()}, func(rows *sql.Rows) error {
			op.Value, op.Found = nil, false
			if !rows.Next() {
				return nil
			}
			var v []byte
			if err := rows.Scan(&v); err != nil {
				return err
			}
			op.Value, op.Found = blob(v), true
			return nil
		}
	default: // store.OpListEnrollments
		return s.q.listEnrollments, []any{op.UserID}, func(rows *sql.Rows) error {
			out := []store.EnrollmentRecord{}
			for rows.Next() {
				e := store.EnrollmentRecord{UserID: op.UserID}
				var created, used sql.NullInt64
				if err := rows.Scan(&e.ID, &e.Method, &e.Label, &e.Data, &created, &used); err != nil {
					return err
				}
				e.Data = blob(e.Data)
				e.CreatedAt, e.LastUsedAt = goTime(created), goTime(used)
				out = append(out, e)
			}
			op.Records = out
			return nil
		}
	}
}

// DeleteEnrollment implements store.Enrollments.
func (s *Store) DeleteEnrollment(ctx context.Context, userID, id string) error {
	return s.do(ctx, "delete enrollment", func() error {
		_, err := s.db.ExecContext(ctx, s.q.deleteEnrollment, userID, id)
		return err
	})
}

// TouchEnrollment implements store.EnrollmentToucher with one UPDATE that
// sets last_used_at only when used is later than the stored time (to the
// microsecond the store keeps) and never creates a row. A zero used is
// later than nothing, so it writes nothing.
func (s *Store) TouchEnrollment(ctx context.Context, userID, id string, used time.Time) error {
	if used.IsZero() {
		return wrap("touch enrollment", ctx.Err())
	}
	return s.do(ctx, "touch enrollment", func() error { return s.touchEnrollment(ctx, s.db, userID, id, used) })
}

// touchEnrollment runs the touch's UPDATE on q; used is not zero.
func (s *Store) touchEnrollment(ctx context.Context, q querier, userID, id string, used time.Time) error {
	m := used.UnixMicro()
	_, err := q.ExecContext(ctx, s.q.touchEnrollment, m, userID, id, m)
	return err
}

// PutDevice implements store.Devices.
func (s *Store) PutDevice(ctx context.Context, d store.Device) error {
	return s.do(ctx, "put device", func() error {
		_, err := s.db.ExecContext(ctx, s.q.putDevice, d.ID, d.UserID, d.Label, d.IP, d.UserAgent, dbTime(d.CreatedAt), dbTime(d.ExpiresAt), dbTime(d.LastSeenAt))
		return err
	})
}

// TouchDevice implements store.DeviceToucher with one UPDATE, which never
// creates a row.
func (s *Store) TouchDevice(ctx context.Context, id string, seen time.Time) error {
	return s.do(ctx, "touch device", func() error {
		_, err := s.db.ExecContext(ctx, s.q.touchDevice, dbTime(seen), id)
		return err
	})
}

// GetDevice implements store.Devices.
func (s *Store) GetDevice(ctx context.Context, id string) (store.Device, error) {
	d := store.Device{ID: id}
	var created, exp, seen sql.NullInt64
	err := s.do(ctx, "get device", func() error {
		return s.db.QueryRowContext(ctx, s.q.getDevice, id, s.nowMicro()).Scan(&d.UserID, &d.Label, &d.IP, &d.UserAgent, &created, &exp, &seen)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return store.Device{}, store.ErrNotFound
	}
	if err != nil {
		return store.Device{}, err
	}
	d.CreatedAt, d.ExpiresAt, d.LastSeenAt = goTime(created), goTime(exp), goTime(seen)
	return d, nil
}

// ListDevices implements store.Devices.
func (s *Store) ListDevices(ctx context.Context, userID string) ([]store.Device, error) {
	var out []store.Device
	err := s.do(ctx, "list devices", func() error {
		out = []store.Device{}
		rows, err := s.db.QueryContext(ctx, s.q.listDevices, userID, s.nowMicro())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			d := store.Device{UserID: userID}
			var created, exp, seen sql.NullInt64
			if err := rows.Scan(&d.ID, &d.Label, &d.IP, &d.UserAgent, &created, &exp, &seen); err != nil {
				return err
			}
			d.CreatedAt, d.ExpiresAt, d.LastSeenAt = goTime(created), goTime(exp), goTime(seen)
			out = append(out, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteDevice implements store.Devices.
func (s *Store) DeleteDevice(ctx context.Context, id string) error {
	return s.do(ctx, "delete device", func() error {
		_, err := s.db.ExecContext(ctx, s.q.deleteDevice, id)
		return err
	})
}

// Sweep implements store.Sweeper: it deletes expired states, codes,
// counters, ledger marks and devices, and returns how many rows it removed.
// Each table is one DELETE on its indexed expiry column.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	now := s.nowMicro()
	total := 0
	for _, q := range s.q.sweep {
		err := s.retry(ctx, "sweep", func() error {
			res, err := s.db.ExecContext(ctx, q, now)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			total += int(n)
			return err
		})
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
