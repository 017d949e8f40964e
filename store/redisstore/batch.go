package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/twofactorkit/twofactor/store"
)

// RunBatch implements store.Batcher: the commands of every operation in
// one pipeline, one round trip (on a cluster or a ring, one pipeline per
// node, sent in parallel). Each operation sends exactly the command its
// own method sends (Peek an HMGET, GetState a GET, ListEnrollments an
// HGETALL, ResetCounter a DEL; IncrBelow, MarkUsed and TouchEnrollment
// their script), so it is as atomic as that method, and its reply is read
// by the method's own code. Redis runs the commands of one connection in
// order, so each operation sees the writes of those before it. A batch
// that calls a script its server has not cached yet (first use, a restart)
// costs one more round trip: the calls refused with NOSCRIPT did not run,
// and are sent again with EVAL along with the plain commands that followed
// them, which keeps the order.
//
// On a *redis.Client every IncrBelow is one script and goes in the
// pipeline. On any other client (a Redis Cluster, a Ring) so does an
// IncrBelow whose keys are in one hash slot, but one whose keys span
// several takes the round trips of its split path ([Store.IncrBelow]), on
// its own after the pipeline. The operations after it in ops that name
// one of its counters (a Peek, a ResetCounter, another IncrBelow) wait
// for it, and go in one more pipeline after it, so that the order of ops
// holds for every counter; the others, which touch none of its keys, go
// in the first pipeline. Only the order in which other callers may see
// the writes of unrelated operations differs from ops.
//
// A batch that store.CheckOps refuses, or whose keys or ids are not
// valid, is an error wrapping twofactor.ErrInvalidInput before anything is
// sent. On any other error some operations may have run.
func (s *Store) RunBatch(ctx context.Context, ops []store.Op) error {
	if err := ctxErr(ctx); err != nil {
		return err
	}
	if err := store.CheckOps(ops); err != nil {
		return invalid("%v", err)
	}
	t := s.now()
	batch := make([]batchOp, len(ops))
	todo := make([]*batchOp, len(ops))
	for i := range ops {
		if err := s.prepareOp(&batch[i], &ops[i], t); err != nil {
			return err
		}
		todo[i] = &batch[i]
	}
	for len(todo) > 0 {
		now, later := splitBatch(todo)
		if err := s.pipelineOps(ctx, now); err != nil {
			return err
		}
		if len(later) == 0 {
			break
		}
		if err := s.runSplit(ctx, later[0]); err != nil {
			return err
		}
		todo = later[1:]
	}
	return nil
}

// batchOp is one operation of a batch, made ready to send.
type batchOp struct {
	op    *store.Op
	cmd   command     // the operation's command, when send is set
	send  bool        // false for an operation that sends nothing
	reply redis.Cmder // the reply to cmd, once sent

	// OpIncrBelow: the groups of its keys (boundedGroups) and the time of
	// the call. With several groups it takes its split path.
	groups []*boundedGroup
	t      time.Time
}

// split reports whether b is an IncrBelow that takes its split path.
func (b *batchOp) split() bool { return len(b.groups) > 1 }

// prepareOp checks op, as its method checks its arguments, and makes b
// the operation ready to send at t.
func (s *Store) prepareOp(b *batchOp, op *store.Op, t time.Time) error {
	*b = batchOp{op: op, send: true}
	var err error
	switch op.Kind {
	case store.OpPeek:
		b.cmd, err = s.peekCmd(op.Key)
	case store.OpGetState:
		b.cmd, err = s.getStateCmd(op.Key)
	case store.OpListEnrollments:
		b.cmd, err = s.listEnrollmentsCmd(op.UserID)
	case store.OpIncrBelow:
		b.t = t
		b.groups, err = s.boundedPrep(op.Incrs, t)
		if len(b.groups) == 1 {
			b.cmd = boundedCmd(b.groups[0], boundedApply, t.UnixMilli())
		} else {
			b.send = false // no entry, or the split path
		}
	case store.OpMarkUsed:
		b.cmd, err = s.markCmd(op.Key, 1, op.Time, true, t.UnixMilli())
	case store.OpResetCounter:
		b.cmd, err = s.resetCmd(op.Key)
	case store.OpTouchEnrollment:
		b.cmd, b.send, err = s.touchCmd(op.UserID, op.ID, op.Time)
	case store.OpConsumeCode:
		b.cmd, err = s.consumeCmd(op.Group, op.Key, op.Hash)
	default: // store.CheckOps refused it
		err = invalid("batch operation of unknown kind %d", op.Kind)
	}
	return err
}

// splitBatch divides ops, in order, into those of the next pipeline and
// those that wait: from the first IncrBelow that takes its split path, it
// and every later operation that names a counter of one that waits. Every
// operation that waits is after the first, which is that IncrBelow.
func splitBatch(ops []*batchOp) (now, later []*batchOp) {
	var held map[string]bool // the counters of the operations that wait
	for _, b := range ops {
		if !b.split() && (held == nil || !b.names(held)) {
			now = append(now, b)
			continue
		}
		if held == nil {
			held = make(map[string]bool)
		}
		later = append(later, b)
		for _, k := range b.counters() {
			held[k] = true
		}
	}
	return now, later
}

// counters returns the counter keys that b reads or writes.
func (b *batchOp) counters() []string {
	switch b.op.Kind {
	case store.OpPeek, store.OpResetCounter:
		return []string{b.op.Key}
	case store.OpIncrBelow:
		keys := make([]string, len(b.op.Incrs))
		for i, in := range b.op.Incrs {
			keys[i] = in.Key
		}
		return keys
	}
	return nil
}

// names reports whether b reads or writes one of the counters in set.
func (b *batchOp) names(set map[string]bool) bool {
	for _, k := range b.counters() {
		if set[k] {
			return true
		}
	}
	return false
}

// pipelineOps sends the commands of ops in one pipeline (sendAll) and
// reads the replies into their results, returning the first error, in
// the order of ops.
func (s *Store) pipelineOps(ctx context.Context, ops []*batchOp) error {
	cmds := make([]command, 0, len(ops))
	for _, b := range ops {
		if b.send {
			cmds = append(cmds, b.cmd)
		}
	}
	replies, err := s.sendAll(ctx, cmds)
	if err != nil {
		return wrap("batch", err)
	}
	j := 0
	for _, b := range ops {
		if b.send {
			b.reply = replies[j]
			j++
		}
		if err := s.readOp(b); err != nil {
			return err
		}
	}
	return nil
}

// readOp sets the result of b's operation from its reply, with the code
// of the operation's method.
func (s *Store) readOp(b *batchOp) error {
	op := b.op
	var err error
	switch op.Kind {
	case store.OpPeek:
		var v store.CounterValue
		v.N, v.ResetAt, err = s.readPeek(b.reply)
		op.Counter = v
	case store.OpGetState:
		op.Value, err = s.readState(b.reply)
		op.Found = err == nil
		if errors.Is(err, store.ErrNotFound) {
			op.Value, err = nil, nil
		}
	case store.OpListEnrollments:
		op.Records, err = readEnrollments(b.reply, op.UserID)
	case store.OpIncrBelow:
		op.Bounded = nil
		if len(b.groups) == 1 {
			out := make([]store.BoundedValue, len(op.Incrs))
			err = readBounded(b.reply, op.Incrs, b.groups[0], out)
			op.Bounded = out
		}
	case store.OpMarkUsed:
		op.First, err = readMark(b.reply, "mark used")
	case store.OpResetCounter:
		err = readReset(b.reply)
	case store.OpTouchEnrollment:
		if b.send {
			err = readTouch(b.reply)
		}
	case store.OpConsumeCode:
		op.Status, err = readConsume(b.reply)
	}
	return err
}

// runSplit runs an IncrBelow of a batch that takes its split path, as
// IncrBelow does.
func (s *Store) runSplit(ctx context.Context, b *batchOp) error {
	out := make([]store.BoundedValue, len(b.op.Incrs))
	if err := s.incrBelowSplit(ctx, b.op.Incrs, b.groups, b.t.UnixMilli(), out); err != nil {
		return err
	}
	b.op.Bounded = out
	return nil
}
