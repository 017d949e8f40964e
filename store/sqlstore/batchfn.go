package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/twofactorkit/twofactor/store"
)

// batchFunctions are the PostgreSQL functions of schema version 3, with
// their argument types, as DropTables drops them.
var batchFunctions = []string{"run_batch(JSONB, BIGINT)", "incr_below(JSONB, BIGINT)", "ct_equal(BYTEA, BYTEA)"}

// fnOp is an operation as <prefix>run_batch reads it (see the migration
// that creates it): t names the kind; times are microseconds since the
// Unix epoch, durations nanoseconds.
type fnOp struct {
	T  string   `json:"t"`
	If int      `json:"if,omitempty"`
	K  string   `json:"k,omitempty"`
	G  string   `json:"g,omitempty"`
	U  string   `json:"u,omitempty"`
	ID string   `json:"id,omitempty"`
	H  []byte   `json:"h"`
	E  *int64   `json:"e,omitempty"`
	M  int      `json:"m,omitempty"`
	Tm int64    `json:"tm,omitempty"`
	V  int64    `json:"v,omitempty"`
	I  []fnIncr `json:"i,omitempty"`
}

// fnIncr is one entry of a bounded increment: key, window, max, steps
// ([after, max] pairs), count refused, check.
type fnIncr struct {
	K string     `json:"k"`
	W int64      `json:"w"`
	M int64      `json:"m"`
	S [][2]int64 `json:"s,omitempty"`
	R bool       `json:"r,omitempty"`
	C bool       `json:"c,omitempty"`
}

// fnResult is one operation's result from <prefix>run_batch; which fields
// it sets depends on the kind.
type fnResult struct {
	Skip bool        `json:"skip"`
	N    int64       `json:"n"`
	R    int64       `json:"r"`
	F    bool        `json:"f"`
	V    []byte      `json:"v"`
	L    []fnRecord  `json:"l"`
	B    []fnBounded `json:"b"`
	W    bool        `json:"w"`
	S    int         `json:"s"`
}

type fnRecord struct {
	ID      string `json:"id"`
	Method  string `json:"m"`
	Label   string `json:"l"`
	Data    []byte `json:"d"`
	Created *int64 `json:"c"`
	Used    *int64 `json:"u"`
}

type fnBounded struct {
	N     int64 `json:"n"`
	R     int64 `json:"r"`
	Max   int64 `json:"x"`
	Full  bool  `json:"f"`
	Incrd bool  `json:"i"`
}

// useBatchFunction reports whether RunBatch sends ops to PostgreSQL as one
// call of <prefix>run_batch: always on PostgreSQL, for a batch of more
// than one operation or with a write, unless a string of it is not valid
// UTF-8, which JSON cannot carry unchanged (the statements refuse it, as
// PostgreSQL's text does).
func (s *Store) useBatchFunction(ops []store.Op) bool {
	if s.dialect != Postgres || s.statementBatches || (len(ops) == 1 && readsOnly(ops)) {
		return false
	}
	for i := range ops {
		op := &ops[i]
		if !utf8.ValidString(op.Key) || !utf8.ValidString(op.Group) || !utf8.ValidString(op.UserID) || !utf8.ValidString(op.ID) {
			return false
		}
		for _, in := range op.Incrs {
			if !utf8.ValidString(in.Key) {
				return false
			}
		}
	}
	return true
}

// runBatchFunction runs ops with one statement, SELECT
// <prefix>run_batch(ops, now), which does in the server what the
// transaction of RunBatch's other path does statement by statement, in
// the same order and with the same locks and conditions, and sets their
// results. The statement is its own transaction: one round trip and one
// commit, run again, as every statement of the store is, when contention
// rolled it back.
func (s *Store) runBatchFunction(ctx context.Context, ops []store.Op) error {
	arg, err := encodeBatch(ops)
	if err != nil {
		return wrap("run batch", err)
	}
	var out []byte
	err = s.do(ctx, "run batch", func() error {
		return s.db.QueryRowContext(ctx, s.q.runBatch, arg, s.nowMicro()).Scan(&out)
	})
	if err != nil {
		return err
	}
	return wrap("run batch", decodeBatch(ops, out))
}

// encodeBatch writes ops as <prefix>run_batch reads them.
func encodeBatch(ops []store.Op) (string, error) {
	in := make([]fnOp, len(ops))
	for i := range ops {
		op, f := &ops[i], &in[i]
		f.If = op.If
		switch op.Kind {
		case store.OpPeek:
			f.T, f.K = "peek", op.Key
		case store.OpGetState:
			f.T, f.K = "get", op.Key
		case store.OpListEnrollments:
			f.T, f.U = "list", op.UserID
		case store.OpIncrBelow:
			f.T, f.I = "incr", make([]fnIncr, len(op.Incrs))
			for j, e := range op.Incrs {
				f.I[j] = fnIncr{K: e.Key, W: int64(e.Window), M: e.Max, R: e.CountRefused, C: e.Check}
				for _, st := range e.Steps {
					f.I[j].S = append(f.I[j].S, [2]int64{int64(st.After), st.Max})
				}
			}
		case store.OpMarkUsed:
			f.T, f.K, f.E = "mark", op.Key, micros(op.Time)
		case store.OpAdvance:
			f.T, f.K, f.E, f.V = "advance", op.Key, micros(op.Time), op.Mark
		case store.OpResetCounter:
			f.T, f.K = "reset", op.Key
		case store.OpConsumeCode:
			f.T, f.G, f.K, f.H = "consume", op.Group, op.Key, blob(op.Hash)
		case store.OpPutCode:
			c := op.Code()
			f.T, f.G, f.K, f.H, f.E, f.M = "put", c.Group, c.Key, blob(c.Hash), micros(c.ExpiresAt), c.MaxAttempts
		case store.OpTouchEnrollment:
			// A zero time is later than nothing: the touch writes nothing.
			f.T, f.U, f.ID, f.Tm = "touch", op.UserID, op.ID, op.Time.UnixMicro()
			if op.Time.IsZero() {
				f.T = "none"
			}
		default: // store.CheckOps refused it
			return "", fmt.Errorf("unknown operation kind %d", op.Kind)
		}
	}
	b, err := json.Marshal(in)
	return string(b), err
}

// micros is t in microseconds, nil for the zero time (never).
func micros(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	m := t.UnixMicro()
	return &m
}

// decodeBatch sets the results of ops from what <prefix>run_batch
// returned, and checks that it skipped exactly the operations that
// store.SkipOp skips.
func decodeBatch(ops []store.Op, out []byte) error {
	var res []fnResult
	if err := json.Unmarshal(out, &res); err != nil {
		return fmt.Errorf("reading the batch's results: %w", err)
	}
	if len(res) != len(ops) {
		return fmt.Errorf("the batch function returned %d results for %d operations", len(res), len(ops))
	}
	for i := range ops {
		op, r := &ops[i], &res[i]
		if store.SkipOp(ops, i) != r.Skip {
			return fmt.Errorf("the batch function and store.SkipOp disagree on operation %d", i)
		}
		if r.Skip {
			continue
		}
		switch op.Kind {
		case store.OpPeek:
			op.Counter = counterValue(r.N, r.R)
		case store.OpGetState:
			op.Value, op.Found = nil, r.F
			if r.F {
				op.Value = blob(r.V)
			}
		case store.OpListEnrollments:
			op.Records = make([]store.EnrollmentRecord, len(r.L))
			for j, e := range r.L {
				op.Records[j] = store.EnrollmentRecord{UserID: op.UserID, ID: e.ID, Method: e.Method, Label: e.Label,
					Data: blob(e.Data), CreatedAt: microTime(e.Created), LastUsedAt: microTime(e.Used)}
			}
		case store.OpIncrBelow:
			if len(r.B) != len(op.Incrs) {
				return fmt.Errorf("the batch function returned %d counters for %d of operation %d", len(r.B), len(op.Incrs), i)
			}
			op.Bounded = make([]store.BoundedValue, len(r.B))
			for j, b := range r.B {
				v := counterValue(b.N, b.R)
				op.Bounded[j] = store.BoundedValue{N: v.N, ResetAt: v.ResetAt, Max: b.Max, Full: b.Full, Incremented: b.Incrd}
			}
		case store.OpMarkUsed, store.OpAdvance:
			op.First = r.W
		case store.OpConsumeCode:
			op.Status = store.CodeStatus(r.S)
		}
	}
	return nil
}

// counterValue is a counter as the batch function returned it: n and the
// end of its window, 0 for a missing or ended counter.
func counterValue(n, reset int64) store.CounterValue {
	if reset == 0 {
		return store.CounterValue{N: n}
	}
	return store.CounterValue{N: n, ResetAt: timeMicro(reset)}
}

// microTime is a nullable time column as the batch function returned it.
func microTime(m *int64) time.Time {
	if m == nil {
		return time.Time{}
	}
	return timeMicro(*m)
}
