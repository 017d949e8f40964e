package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// OpKind names the operation of one entry of a batch ([Batcher]).
type OpKind uint8

// The operations a batch may hold. Each is the method of the same name,
// with the same meaning and the same atomicity; its arguments and results
// are fields of [Op].
const (
	// OpPeek is Counters.Peek(Key): the result is Counter.
	OpPeek OpKind = iota + 1
	// OpGetState is States.GetState(Key): the result is Value and Found
	// (a missing or expired state is Found false, not an error).
	OpGetState
	// OpListEnrollments is Enrollments.ListEnrollments(UserID): the
	// result is Records.
	OpListEnrollments
	// OpIncrBelow is BoundedCounters.IncrBelow(Incrs): the result is
	// Bounded.
	OpIncrBelow
	// OpMarkUsed is Ledger.MarkUsed(Key, Time): the result is First.
	OpMarkUsed
	// OpResetCounter is Counters.ResetCounter(Key).
	OpResetCounter
	// OpTouchEnrollment is EnrollmentToucher.TouchEnrollment(UserID, ID,
	// Time).
	OpTouchEnrollment
	// OpConsumeCode is Codes.ConsumeCode(Group, Key, Hash): the result is
	// Status.
	OpConsumeCode
	// OpPutCode is Codes.PutCode(Code{Group, Key, Hash, Time,
	// MaxAttempts}): see [PutCodeOp].
	OpPutCode
	// OpAdvance is Ledger.Advance(Key, Value, Time): the result is First
	// (whether it raised the mark).
	OpAdvance
)

var opNames = [...]string{"", "peek", "get_state", "list_enrollments", "incr_below", "mark_used", "reset_counter", "touch_enrollment", "consume_code", "put_code", "advance"}

func (k OpKind) String() string {
	if int(k) < len(opNames) && k != 0 {
		return opNames[k]
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// An Op is one operation of a batch: its kind, the arguments its kind
// takes, and, after the batch ran, its result.
type Op struct {
	Kind OpKind

	// Arguments.
	Key         string        // OpPeek, OpGetState, OpMarkUsed, OpResetCounter, OpConsumeCode, OpPutCode, OpAdvance
	UserID      string        // OpListEnrollments, OpTouchEnrollment
	ID          string        // OpTouchEnrollment: the enrollment id
	Time        time.Time     // OpMarkUsed, OpAdvance: the mark's expiry; OpTouchEnrollment: the time of use; OpPutCode: the code's expiry
	Mark        int64         // OpAdvance: the value the mark is raised to
	Incrs       []BoundedIncr // OpIncrBelow
	Group       string        // OpConsumeCode, OpPutCode
	Hash        []byte        // OpConsumeCode, OpPutCode
	MaxAttempts int           // OpPutCode

	// If makes the operation conditional. When above zero it names, one
	// based, an OpIncrBelow, an OpConsumeCode or an OpAdvance earlier in
	// the batch: the operation runs only when that one ran and succeeded
	// ([Admitted]: an increment refused nothing, no entry of its result
	// being Full; a consumption matched; an advance raised the mark), and
	// otherwise does not run and is Skipped. It puts a step in the round
	// trip of what decides it where it would otherwise wait for that
	// reply: a code is stored only when its send was counted, consumed
	// only when the answer was, and a challenge ended only when its code
	// matched, or when the time step of an authenticator app's code was
	// new. Zero: the operation always runs.
	If int

	// Results, set by a batch that returned no error.
	Counter CounterValue       // OpPeek
	Value   []byte             // OpGetState, when Found
	Found   bool               // OpGetState
	Records []EnrollmentRecord // OpListEnrollments; empty, not nil, for none
	Bounded []BoundedValue     // OpIncrBelow
	First   bool               // OpMarkUsed; OpAdvance: it raised the mark
	Status  CodeStatus         // OpConsumeCode
	Skipped bool               // an operation whose If refused it: it did not run, and its other results are unset
}

// PutCodeOp returns the OpPutCode that stores c.
func PutCodeOp(c Code) Op {
	return Op{Kind: OpPutCode, Group: c.Group, Key: c.Key, Hash: c.Hash, Time: c.ExpiresAt, MaxAttempts: c.MaxAttempts}
}

// Code returns the code that op, an OpPutCode, stores.
func (op *Op) Code() Code {
	return Code{Group: op.Group, Key: op.Key, Hash: op.Hash, ExpiresAt: op.Time, MaxAttempts: op.MaxAttempts}
}

// Batcher is implemented by stores that can run several operations in one
// round trip: one pipeline to Redis, one transaction on SQL. The library
// uses it where a step needs several operations none of which depends on
// another's result (the lockout and the user's records at the start of a
// login; the end of a challenge, its user's run of wrong answers and the
// factor's last use at its completion; a backup code's consumption with
// its marks), or depends only on whether an earlier operation admitted it
// (Op.If: a code's storing with the count of its send, its consumption
// with the count of the answer, a challenge's end with the replay mark
// of the authenticator-app code that completes it). Use [RunBatch] rather
// than calling it directly.
type Batcher interface {
	// RunBatch runs every operation of ops, in order, and sets their
	// results. Each operation is exactly the method it names, as atomic
	// as that method across processes, and sees the writes of the
	// operations before it; the batch as a whole need not be atomic
	// (another caller's operations may come between two of its
	// operations), though a store may make it so. An operation with If
	// runs only when the operation it names succeeded ([Admitted]), and
	// is decided by the store, with no round trip between the two
	// ([SkipOp] tells which). On error no result may be used, and any
	// number of the operations may have run (a reply lost after the store
	// wrote). Ops that [CheckOps] refuses are an error before any runs.
	//
	// A store that wraps another (embedding it) and changes one of the
	// methods a batch names must define RunBatch too, with [RunEach] or
	// its own: the embedded store's RunBatch runs the embedded store's
	// methods, not the wrapper's.
	RunBatch(ctx context.Context, ops []Op) error
}

// CheckOps returns the error of RunBatch for ops that hold an unknown
// kind, an IncrBelow that CheckBounded refuses, or an If that names no
// OpIncrBelow, OpConsumeCode or OpAdvance before its operation, and nil
// otherwise. Stores call it before running any operation.
func CheckOps(ops []Op) error {
	for i := range ops {
		op := &ops[i]
		if op.If < 0 || op.If > i || (op.If > 0 && !gates(ops[op.If-1].Kind)) {
			return fmt.Errorf("store: batch operation %d has If %d, which names no bounded increment, code consumption or advance before it", i, op.If)
		}
		switch op.Kind {
		case OpPeek, OpGetState, OpListEnrollments, OpMarkUsed, OpResetCounter, OpTouchEnrollment, OpConsumeCode, OpPutCode, OpAdvance:
		case OpIncrBelow:
			if err := CheckBounded(op.Incrs); err != nil {
				return err
			}
		default:
			return fmt.Errorf("store: batch operation %d has unknown kind %d", i, op.Kind)
		}
	}
	return nil
}

// gates reports whether an operation of kind k may be named by If.
func gates(k OpKind) bool {
	return k == OpIncrBelow || k == OpConsumeCode || k == OpAdvance
}

// RunBatch runs ops on st: in one round trip when st implements Batcher,
// one operation after another otherwise ([RunOp]). now is the time of the
// store's clock, which only the fallback of an OpIncrBelow on a store
// without BoundedCounters uses (see IncrAllBelow).
func RunBatch(ctx context.Context, st any, ops []Op, now time.Time) error {
	if len(ops) == 0 {
		return nil
	}
	if err := CheckOps(ops); err != nil {
		return err
	}
	if b, ok := st.(Batcher); ok {
		if err := b.RunBatch(ctx, ops); err != nil {
			return err
		}
		for i := range ops {
			op := &ops[i]
			if op.Kind == OpIncrBelow && !op.Skipped && len(op.Bounded) != len(op.Incrs) {
				return errors.New("store: RunBatch returned an IncrBelow result count that does not match the call")
			}
			if op.If > 0 && op.Skipped == Admitted(&ops[op.If-1]) {
				return fmt.Errorf("store: %T ran batch operation %d against its If, or skipped it (a Batcher must honor Op.If)", st, i)
			}
		}
		return nil
	}
	return RunEach(ctx, st, ops, now)
}

// RunEach runs ops on st one after another, each through st's own method
// ([RunOp]), never through a Batcher: what a store that wraps another and
// changes some of its methods uses as its RunBatch, and what the memory
// store, whose calls cost no round trip, does.
func RunEach(ctx context.Context, st any, ops []Op, now time.Time) error {
	if err := CheckOps(ops); err != nil {
		return err
	}
	for i := range ops {
		if SkipOp(ops, i) {
			continue
		}
		if err := RunOp(ctx, st, &ops[i], now); err != nil {
			return err
		}
	}
	return nil
}

// Admitted reports whether op, an operation of a batch that ran it, holds
// the condition of the operations whose If names it: an OpIncrBelow
// refused nothing (none of its entries is Full), an OpConsumeCode matched,
// an OpAdvance raised its mark, and none was itself skipped (a
// conditional operation whose condition failed admits nothing).
func Admitted(op *Op) bool {
	if op.Skipped {
		return false
	}
	switch op.Kind {
	case OpConsumeCode:
		return op.Status == CodeMatched
	case OpAdvance:
		return op.First
	}
	return FirstFull(op.Bounded) < 0
}

// SkipOp reports whether ops[i] is conditional (If) and the operation it
// names, which must have run, did not admit it ([Admitted]); it then sets
// the operation's Skipped and clears its other results. A store's
// RunBatch calls it in place of running the operation; an operation
// whose condition holds has Skipped cleared.
func SkipOp(ops []Op, i int) bool {
	op := &ops[i]
	skip := op.If > 0 && !Admitted(&ops[op.If-1])
	if skip {
		op.Counter, op.Value, op.Found, op.Records = CounterValue{}, nil, false, nil
		op.Bounded, op.First, op.Status = nil, false, 0
	}
	op.Skipped = skip
	return skip
}

// RunOp runs one operation of a batch on st through the interface that
// has its method, and sets its result. It is the fallback of RunBatch,
// and what a store whose calls cost no round trip (Memory) runs a batch
// with. An OpTouchEnrollment on a store without EnrollmentToucher reads
// and rewrites the record, as the factors do.
func RunOp(ctx context.Context, st any, op *Op, now time.Time) error {
	missing := func(iface string) error {
		return fmt.Errorf("store: %T cannot run a batch's %s: it does not implement store.%s", st, op.Kind, iface)
	}
	switch op.Kind {
	case OpPeek, OpResetCounter:
		c, ok := st.(Counters)
		if !ok {
			return missing("Counters")
		}
		if op.Kind == OpResetCounter {
			return c.ResetCounter(ctx, op.Key)
		}
		n, reset, err := c.Peek(ctx, op.Key)
		op.Counter = CounterValue{N: n, ResetAt: reset}
		return err
	case OpGetState:
		s, ok := st.(States)
		if !ok {
			return missing("States")
		}
		v, err := s.GetState(ctx, op.Key)
		if errors.Is(err, ErrNotFound) {
			op.Value, op.Found = nil, false
			return nil
		}
		op.Value, op.Found = v, err == nil
		return err
	case OpListEnrollments:
		e, ok := st.(Enrollments)
		if !ok {
			return missing("Enrollments")
		}
		recs, err := e.ListEnrollments(ctx, op.UserID)
		if recs == nil && err == nil {
			recs = []EnrollmentRecord{}
		}
		op.Records = recs
		return err
	case OpIncrBelow:
		c, ok := st.(Counters)
		if !ok {
			return missing("Counters")
		}
		out, err := IncrAllBelow(ctx, c, op.Incrs, now)
		op.Bounded = out
		return err
	case OpMarkUsed, OpAdvance:
		l, ok := st.(Ledger)
		if !ok {
			return missing("Ledger")
		}
		var first bool
		var err error
		if op.Kind == OpAdvance {
			first, err = l.Advance(ctx, op.Key, op.Mark, op.Time)
		} else {
			first, err = l.MarkUsed(ctx, op.Key, op.Time)
		}
		op.First = first
		return err
	case OpTouchEnrollment:
		return touch(ctx, st, op, missing)
	case OpConsumeCode:
		c, ok := st.(Codes)
		if !ok {
			return missing("Codes")
		}
		status, err := c.ConsumeCode(ctx, op.Group, op.Key, op.Hash)
		op.Status = status
		return err
	case OpPutCode:
		c, ok := st.(Codes)
		if !ok {
			return missing("Codes")
		}
		return c.PutCode(ctx, op.Code())
	}
	return fmt.Errorf("store: batch operation has unknown kind %d", op.Kind)
}

// touch runs an OpTouchEnrollment: TouchEnrollment when st has it, else a
// read and a rewrite when the time is later than the stored one.
func touch(ctx context.Context, st any, op *Op, missing func(string) error) error {
	if t, ok := st.(EnrollmentToucher); ok {
		return t.TouchEnrollment(ctx, op.UserID, op.ID, op.Time)
	}
	e, ok := st.(Enrollments)
	if !ok {
		return missing("Enrollments")
	}
	rec, err := e.GetEnrollment(ctx, op.UserID, op.ID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil || !op.Time.After(rec.LastUsedAt) {
		return err
	}
	rec.LastUsedAt = op.Time
	return e.PutEnrollment(ctx, rec)
}
