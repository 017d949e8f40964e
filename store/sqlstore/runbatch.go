package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/twofactorkit/twofactor/store"
)

// RunBatch implements store.Batcher. On SQL a batch is one transaction,
// committed once: each operation runs the statements of its own method
// (the same code) inside it, in the order of ops, so it sees the writes
// of those before it, and it is as atomic as its method, whose atomicity
// comes from those statements' row locks and conditions, not from a
// transaction of its own. The ended rows that a batch's increments created
// to lock missing counters (PostgreSQL, MySQL) and did not write are
// deleted before the commit, where an IncrBelow on its own rolls back (on
// MySQL, those of an increment that refused nothing stay ended, to be
// written or swept later: see batchLocks). The
// counters a batch's increments locked stay locked to the commit, and
// what its later operations do to them is kept in the transaction and
// written just before the commit: a later increment reads them there
// without locking them again, and a reset of a counter the batch
// incremented writes nothing but its row's deletion (see batchLocks).
//
// As one transaction the batch's writes take effect together or not at
// all: on error nothing was written, unless the error is a lost reply to
// the commit. Other callers' operations may still come between two of its
// operations (the transaction is not serializable), and its writes keep
// their rows locked until it commits. Batches that lock the same rows in a
// different order can therefore deadlock; the database rolls one back,
// and the store runs it again from its first operation, as it runs again
// every transaction that contention rolled back.
//
// An operation with If runs in the transaction after the bounded
// increment it names, when that refused nothing (store.SkipOp).
//
// On PostgreSQL a batch of more than one operation, or with a write, is
// one statement instead: a call of the function <prefix>run_batch (schema
// version 3), which runs the same operations in the server, in order,
// with the same locks and conditions (see runBatchFunction).
//
// On MySQL, on a pool that takes several statements in one request
// (multiStatements), the transaction's writes and plain reads wait and go
// with the next statement whose rows the batch needs at once (a bounded
// increment's locks), or with its COMMIT, and a code's locking read goes
// with the locks of the increment it depends on (see pipeTx and pipeRun):
// the same statements in the same order, in as few requests as their
// results allow. An error from a statement that waited surfaces with the
// request that carried it, so the operation an error names may be a later
// one than the statement's; the error then says from which operation on
// the request carried statements (the server does not say which failed).
//
// Elsewhere a batch costs BEGIN, its operations' statements and COMMIT.
// It saves the commits of its writes (each a wait for the disk), not
// round trips, so a batch of plain reads alone (Peek, GetState, ListEnrollments) runs them
// one after the other on the pool, with no transaction: each sees the rows
// as they are when it runs, as its method's does, and BEGIN and COMMIT
// would only add two round trips (see BENCHMARKS.md).
//
// Each read sees the rows as they are when it runs, as its method's does:
// PostgreSQL's READ COMMITTED takes a snapshot per statement, and SQLite
// runs one writer at a time (from BEGIN, on a database opened by package
// sqlite). MySQL's REPEATABLE READ would have every plain read see the
// snapshot of the transaction's first one, which for a read that follows a
// write that follows a plain read is older than what the write saw; such a
// batch (see needsReadCommitted) runs in READ COMMITTED, which costs one
// round trip more, and on a server that writes its binary log in STATEMENT
// format (neither MySQL's nor MariaDB's default) makes its writes fail.
func (s *Store) RunBatch(ctx context.Context, ops []store.Op) error {
	if err := store.CheckOps(ops); err != nil {
		return wrap("run batch", err)
	}
	if len(ops) == 0 {
		return nil
	}
	if s.useBatchFunction(ops) {
		return s.runBatchFunction(ctx, ops)
	}
	if readsOnly(ops) {
		if s.dialect == MySQL && len(ops) > 1 && s.pipelines(ctx) {
			return wrap("run batch", s.readAll(ctx, ops))
		}
		return wrap("run batch", s.readEach(ctx, ops))
	}
	run := func(tx querier) error {
		locks := batchLocks{}
		var code codeRow // read in the request of the increment before it (see pipeRun)
		read := -1       // the index of the consumption whose row code holds
		for i := range ops {
			if store.SkipOp(ops, i) {
				continue
			}
			var err error
			if p, ok := tx.(*pipeTx); ok {
				p.op = i
				err = s.pipeRun(ctx, p, ops, i, locks, &code, &read)
			} else {
				err = s.runOp(ctx, tx, &ops[i], locks)
			}
			if err != nil {
				return &opError{i: i, kind: ops[i].Kind, err: err}
			}
		}
		if p, ok := tx.(*pipeTx); ok {
			p.op = len(ops) // what is held now goes with the COMMIT
		}
		return s.flush(ctx, tx, locks)
	}
	s.probeServer(ctx)
	readCommitted := s.dialect == MySQL && needsReadCommitted(ops)
	if s.dialect == MySQL && s.pipelines(ctx) {
		return s.pipeTxWith(ctx, "run batch", readCommitted, run)
	}
	var opts *sql.TxOptions
	if readCommitted {
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	return s.txWith(ctx, "run batch", opts, func(tx *sql.Tx) error { return run(tx) })
}

// pipeRun runs ops[i] in p, a MySQL batch's pipelined transaction, as
// runOp does, in fewer requests:
//
//   - a plain read (Peek, GetState, ListEnrollments), whose rows no later
//     operation of the batch reads, is held (holdRead) and goes with the
//     batch's next request, at the latest its COMMIT's;
//   - the locking read of a code whose consumption follows the bounded
//     increment it depends on (If) goes in the request of the increment's
//     locks, after them, before whether the increment admits it is known:
//     a read that locks the code's row until the commit, which the
//     consumption would have taken next, in the same order after the
//     counters' locks, so no batch waits on another in a new order. When
//     the increment admits the consumption, the consumption decides on
//     that row (code, read being its index); when not, the row goes unused.
//
// Either way every statement runs in the same order as runOp's, in the same
// transaction, and sees what it would have seen.
func (s *Store) pipeRun(ctx context.Context, p *pipeTx, ops []store.Op, i int, locks batchLocks, code *codeRow, read *int) error {
	op := &ops[i]
	switch op.Kind {
	case store.OpPeek, store.OpGetState, store.OpListEnrollments:
		if err := s.flushForPeek(ctx, p, op, locks); err != nil {
			return err
		}
		text, args, set := s.plainRead(op)
		p.holdRead(text, args, set)
		return nil
	case store.OpIncrBelow:
		next := i + 1
		if next == len(ops) || ops[next].Kind != store.OpConsumeCode || ops[next].If != i+1 {
			return s.runOp(ctx, p, op, locks)
		}
		p.follow = &heldRead{query: s.q.lockCode, args: []any{ops[next].Group, ops[next].Key}, read: code.scan}
		err := s.runOp(ctx, p, op, locks)
		if p.follow == nil {
			*read = next
		}
		p.follow = nil // an increment of held counters alone sends no request
		return err
	case store.OpConsumeCode:
		if *read == i {
			var err error
			op.Status, err = s.consumeRow(ctx, p, op.Group, op.Key, op.Hash, code)
			return err
		}
	}
	return s.runOp(ctx, p, op, locks)
}

// readEach runs ops, plain reads, one after the other with no
// transaction, on one connection of the pool: each sees the rows as they
// are when it runs, and the batch waits for a connection once rather than
// once a read (with SQLite's one connection, a wait behind every other
// caller's transaction).
func (s *Store) readEach(ctx context.Context, ops []store.Op) error {
	var q querier = s.db
	if len(ops) > 1 {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		q = conn
	}
	for i := range ops {
		if err := s.runOp(ctx, q, &ops[i], nil); err != nil {
			return &opError{i: i, kind: ops[i].Kind, err: err}
		}
	}
	return nil
}

// readAll runs ops, plain reads, as one request of as many statements on
// a MySQL pool that takes several (see pipelines), and sets each one's
// result from its own result set: each statement sees the rows as they
// are when it runs, as when each is a request of its own.
func (s *Store) readAll(ctx context.Context, ops []store.Op) error {
	var text strings.Builder
	var args []any
	sets := make([]func(*sql.Rows) error, len(ops))
	for i := range ops {
		query, a, set := s.plainRead(&ops[i])
		if i > 0 {
			text.WriteString("; ")
		}
		text.WriteString(query)
		args = append(args, a...)
		sets[i] = set
	}
	rows, err := s.db.QueryContext(ctx, text.String(), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for i, set := range sets {
		if i > 0 && !rows.NextResultSet() {
			return cmp.Or(rows.Err(), fmt.Errorf("no result set for operation %d of the batch", i))
		}
		if err := set(rows); err != nil {
			return &opError{i: i, kind: ops[i].Kind, err: err}
		}
	}
	return rows.Err()
}

// opError is the error of operation i of a batch. Its message starts with
// the statement's, which retryable reads (MySQL's errors tell contention
// by their message only).
type opError struct {
	i    int
	kind store.OpKind
	err  error
}

func (e *opError) Error() string {
	return fmt.Sprintf("%v (operation %d of the batch, %s)", e.err, e.i, e.kind)
}

func (e *opError) Unwrap() error { return e.err }

// runOp runs one operation of a batch in tx with its method's code, and
// sets every field of its result.
func (s *Store) runOp(ctx context.Context, tx querier, op *store.Op, locks batchLocks) error {
	var err error
	switch op.Kind {
	case store.OpPeek, store.OpGetState, store.OpListEnrollments:
		if err := s.flushForPeek(ctx, tx, op, locks); err != nil {
			return err
		}
		err = s.runRead(ctx, tx, op)
	case store.OpIncrBelow:
		if _, pool := tx.(*sql.DB); pool { // readsOnly never runs one outside a transaction
			return fmt.Errorf("a bounded increment outside a transaction")
		}
		op.Bounded, err = s.incrBelow(ctx, tx, op.Incrs, locks)
	case store.OpMarkUsed:
		op.First, err = s.ledgerWrite(ctx, tx, s.q.markUsed, op.Key, nil, op.Time)
	case store.OpAdvance:
		op.First, err = s.ledgerWrite(ctx, tx, s.q.advance, op.Key, &op.Mark, op.Time)
	case store.OpResetCounter:
		if !locks.forget(op.Key) {
			err = s.resetCounter(ctx, tx, op.Key)
		}
	case store.OpConsumeCode:
		if _, pool := tx.(*sql.DB); pool { // readsOnly never runs one outside a transaction
			return fmt.Errorf("a code's consumption outside a transaction")
		}
		op.Status, err = s.consumeCode(ctx, tx, op.Group, op.Key, op.Hash)
	case store.OpPutCode:
		err = s.putCode(ctx, tx, op.Code())
	case store.OpTouchEnrollment:
		if !op.Time.IsZero() { // later than nothing: TouchEnrollment writes nothing
			err = s.touchEnrollment(ctx, tx, op.UserID, op.ID, op.Time)
		}
	default: // store.CheckOps refused it
		err = fmt.Errorf("unknown operation kind %d", op.Kind)
	}
	return err
}

// flushForPeek writes what the batch changed in the counters it holds
// when op is a Peek of one of them: a Peek reads the counter's row, which
// must hold what the batch did to it.
func (s *Store) flushForPeek(ctx context.Context, tx querier, op *store.Op, locks batchLocks) error {
	if _, held := locks[op.Key]; held && op.Kind == store.OpPeek && s.pending(locks) {
		return s.flush(ctx, tx, locks)
	}
	return nil
}

// readsOnly reports whether every operation of ops is a plain read.
func readsOnly(ops []store.Op) bool {
	for i := range ops {
		switch ops[i].Kind {
		case store.OpPeek, store.OpGetState, store.OpListEnrollments:
		default:
			return false
		}
	}
	return true
}

// needsReadCommitted reports whether ops, run in one transaction on MySQL,
// need READ COMMITTED to read what their methods would. In REPEATABLE
// READ, MySQL's default, a plain read (a consistent read: Peek, GetState,
// ListEnrollments, and MarkUsed's and Advance's read of its token) sees the snapshot
// taken by the transaction's first plain read, while writes and locking
// reads (the other operations' statements) see the latest rows. So a
// plain read that follows a write that follows a plain read would see rows
// older than those the write saw, as no sequence of the methods could.
// Plain reads before any write see one snapshot, as if run at the instant
// of the first; a plain read after writes but after no plain read before
// them takes its snapshot after them. Either is what the methods, run in
// order, may see.
func needsReadCommitted(ops []store.Op) bool {
	read, writeAfterRead := false, false
	for i := range ops {
		switch ops[i].Kind {
		case store.OpPeek, store.OpGetState, store.OpListEnrollments:
			if writeAfterRead {
				return true
			}
			read = true
		case store.OpMarkUsed, store.OpAdvance: // an upsert, then a plain read of its row
			if read {
				return true
			}
			read = true
		default:
			writeAfterRead = writeAfterRead || read
		}
	}
	return false
}
