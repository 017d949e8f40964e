package redisstore

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/twofactorkit/twofactor/store"
)

// RunBatch implements store.Batcher: the commands of every operation in
// one pipeline, one round trip (on a cluster or a ring, a transaction per
// hash slot with several commands and one pipeline per node for the rest,
// sent at once). Each operation sends exactly the command its
// own method sends (Peek an HMGET, GetState a GET, ListEnrollments an
// HGETALL, ResetCounter a DEL; IncrBelow, MarkUsed, Advance and
// TouchEnrollment their script), so it is as atomic as that method, and its reply is read
// by the method's own code. Redis runs the commands of one connection in
// order, so each operation sees the writes of those before it. On a
// *redis.Client the pipeline is a transaction (MULTI ... EXEC): the
// server runs its commands with no other client's command between two of
// them, so the operations of two batches never interleave, as those of
// two SQL transactions on the same rows do not (a double submit of a
// backup code relies on it to tell its loser from a wrong code). On any
// other client, where a transaction cannot span hash slots, the commands
// on the keys of one slot are a transaction when they are several, so two
// batches' operations on the same keys never interleave there either;
// those on keys of different slots run in no order between them, which
// no operation sees, sharing no key. A transaction isolates; it does not
// roll back: a command that fails leaves the others run. A batch that calls a script its server has not
// cached yet (first use, a restart) costs one more round trip: the calls
// refused with NOSCRIPT did not run, and are sent again with EVAL along
// with the plain commands that followed them, which keeps the order (the
// two transactions are isolated each, not together).
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
// On a *redis.Client a conditional operation (store.Op.If) goes in the
// pipeline of the operation it names, its gate: that one's script sets a
// key of the batch's own with a short TTL (gateOp) when it admits what
// follows (a bounded increment that refuses nothing, a code that
// matched, a ledger mark raised), and the conditional operation's script
// runs only when it deletes that key. A count, a code's check and the
// challenge's end that follows a match are then one round trip. This
// holds for a code's storing or consumption, a bounded increment, a
// counter's reset or a last use after a bounded increment that is not
// itself conditional, for a bounded increment, a counter's reset, a last
// use or another consumption after a code's consumption, and for a
// bounded increment, a counter's reset, a last use or another advance
// after an advance (conditional itself or not).
// Any other conditional operation, and every one on another client,
// waits for the reply of what it names and goes in one more pipeline, or
// is skipped.
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
		batch[i].i = i
		if ops[i].If > 0 {
			s.gateOp(&batch[i], &batch[ops[i].If-1], batch[ops[i].If:i])
		}
		todo[i] = &batch[i]
	}
	for len(todo) > 0 {
		now, later := splitBatch(todo, batch)
		if err := s.pipelineOps(ctx, ops, now); err != nil {
			return err
		}
		if len(later) == 0 {
			break
		}
		if !later[0].split() { // a conditional operation, its gate now run
			todo = later
			continue
		}
		if err := s.runSplit(ctx, later[0]); err != nil {
			return err
		}
		later[0].done = true
		todo = later[1:]
	}
	return nil
}

// gateTTL bounds, in milliseconds, how long a gate that an operation
// sets for a conditional operation after it in a pipeline lives: the operation runs right after it, in the same pipeline, so the
// gate is normally deleted within a millisecond. One that is not (a
// pipeline cut short) expires on its own; one that expired before its
// operation ran makes the batch fail (readOp).
const gateTTL = 10000

// gateOp joins the conditional operation b (store.Op.If) to the
// operation g it names, when their pipeline can decide it: on one server
// (a *redis.Client), when g is a bounded increment that is not itself
// conditional and b a code's storing or consumption, a bounded
// increment, a counter's reset or a last use, when g is a code's
// consumption and b a bounded increment, a counter's reset, a last use
// or a consumption, or when g is an advance and b a bounded increment, a
// counter's reset, a last use or an advance. g's script then sets a gate, a key of
// its own that only it writes, when it admits b (store.Admitted), and b's
// script runs only when it deletes that gate, all in one round trip; g
// sets one gate for each operation it joins so. Any other
// conditional operation waits for g's reply and is sent, or skipped, in
// one more pipeline (splitBatch), and so does b when an operation
// between g and b (between) waits, which puts b in a later pipeline than
// g.
func (s *Store) gateOp(b, g *batchOp, between []batchOp) {
	_, single := s.rdb.(*redis.Client)
	if !single || !g.send || g.wait || !b.send || !gates(g, b) || slices.ContainsFunc(between, func(o batchOp) bool { return o.wait }) {
		b.wait = true
		return
	}
	gate := s.prefix + "g:" + rand.Text()
	switch g.op.Kind {
	case store.OpIncrBelow: // mode "g": the gates are its last keys
		if g.gates == 0 {
			g.cmd = boundedCmd(g.groups[0], boundedGate, g.t.UnixMilli())
			g.cmd.keys = slices.Clip(g.cmd.keys)
			g.cmd.args = slices.Insert(g.cmd.args, 2, any(gateTTL), any(0))
		}
		g.cmd.keys = append(g.cmd.keys, gate)
		g.cmd.args[3] = g.gates + 1
	case store.OpConsumeCode: // the gates it sets are its last keys
		g.cmd.keys = append(slices.Clip(g.cmd.keys), gate)
		g.cmd.args = consumeGateArgs(g.cmd.args, g.gate != "")
	case store.OpAdvance: // the gates it sets are its last keys
		g.cmd.keys = append(slices.Clip(g.cmd.keys), gate)
		g.cmd.args = advanceGateArgs(g.cmd.args, g.gate != "")
	}
	g.gates++
	b.gate, b.gatedBy = gate, g
	switch b.op.Kind {
	case store.OpIncrBelow: // mode "w": the gate is its last key
		b.cmd = boundedCmd(b.groups[0], boundedWait, b.t.UnixMilli())
		b.cmd.keys = append(slices.Clip(b.cmd.keys), gate)
	case store.OpResetCounter:
		b.cmd = scriptCommand(resetGated, []string{s.counterKey(b.op.Key), gate})
	case store.OpAdvance: // KEYS[2], before the gates it sets
		b.cmd.keys = append(slices.Clip(b.cmd.keys), gate)
		b.cmd.args = advanceGateArgs(b.cmd.args, true)
	default: // a code's storing or consumption, a last use: KEYS[2]
		b.cmd.keys = append(slices.Clip(b.cmd.keys), gate)
		if b.op.Kind == store.OpConsumeCode {
			b.cmd.args = consumeGateArgs(b.cmd.args, true)
		}
	}
}

// gates reports whether g's script can set a gate that b's script
// deletes (gateOp).
func gates(g, b *batchOp) bool {
	switch g.op.Kind {
	case store.OpIncrBelow:
		switch b.op.Kind {
		case store.OpConsumeCode, store.OpPutCode, store.OpIncrBelow, store.OpResetCounter, store.OpTouchEnrollment:
			return g.gate == ""
		}
	case store.OpConsumeCode:
		switch b.op.Kind {
		case store.OpIncrBelow, store.OpResetCounter, store.OpTouchEnrollment, store.OpConsumeCode:
			return true
		}
	case store.OpAdvance:
		switch b.op.Kind {
		case store.OpIncrBelow, store.OpResetCounter, store.OpTouchEnrollment, store.OpAdvance:
			return true
		}
	}
	return false
}

// advanceGateArgs sets, in the arguments of the advance script, the TTL
// of the gates it sets and whether it deletes one first (in).
func advanceGateArgs(args []any, in bool) []any {
	flag := "0"
	if in {
		flag = "1"
	}
	return append(args[:6:6], gateTTL, flag)
}

// consumeGateArgs sets, in the arguments of the consumeCode script, the
// number of gates the call deletes (1 when in) and the TTL of those it
// sets.
func consumeGateArgs(args []any, in bool) []any {
	n := 0
	if in {
		n = 1
	}
	return append(args[:4:4], n, gateTTL)
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

	i    int  // the operation's index in the batch
	done bool // the operation ran, or was skipped: its result is set
	// gate is the gate key (gateOp) that this conditional operation
	// deletes, which gatedBy sets in the same pipeline; gates counts the
	// gates this operation sets. wait is set for a conditional operation
	// that waits for the reply of what it names instead.
	gate    string
	gatedBy *batchOp
	gates   int
	wait    bool
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
	case store.OpAdvance:
		b.cmd, err = s.markCmd(op.Key, op.Mark, op.Time, false, t.UnixMilli())
	case store.OpResetCounter:
		b.cmd, err = s.resetCmd(op.Key)
	case store.OpTouchEnrollment:
		b.cmd, b.send, err = s.touchCmd(op.UserID, op.ID, op.Time)
	case store.OpConsumeCode:
		b.cmd, err = s.consumeCmd(op.Group, op.Key, op.Hash)
	case store.OpPutCode:
		b.cmd, err = s.putCmd(op.Code())
	default: // store.CheckOps refused it
		err = invalid("batch operation of unknown kind %d", op.Kind)
	}
	return err
}

// splitBatch divides ops, in order, into those of the next pipeline and
// those that wait: from the first IncrBelow that takes its split path, it
// and every later operation that names a counter of one that waits. Every
// operation that waits is after the first, which is that IncrBelow.
//
// A conditional operation that waits for the reply of what it names
// (gateOp) waits with every operation after it, unless that one ran; then
// it is first of the next pipeline, which decides it.
func splitBatch(ops []*batchOp, all []batchOp) (now, later []*batchOp) {
	var held map[string]bool // the counters of the operations that wait
	for j, b := range ops {
		if b.wait && !all[b.op.If-1].done {
			return now, append(later, ops[j:]...)
		}
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

// pipelineOps sends the commands of ops, operations of the batch all, in
// one pipeline (sendAll) and reads the replies into their results,
// returning the first error, in the order of ops. A conditional operation
// that waited for the reply of what it names is skipped here when that
// did not admit it (store.SkipOp), and sends nothing.
func (s *Store) pipelineOps(ctx context.Context, all []store.Op, ops []*batchOp) error {
	cmds := make([]command, 0, len(ops))
	at := make(map[*batchOp]int, len(ops)) // an operation's command's index in cmds
	for _, b := range ops {
		if b.wait && store.SkipOp(all, b.i) {
			b.send, b.done = false, true
			continue
		}
		if b.send {
			c := b.cmd
			if b.gatedBy != nil {
				j, ok := at[b.gatedBy]
				if !ok { // gateOp joins only operations that share a pipeline
					return wrap("batch", errors.New("a conditional operation left its gate's pipeline"))
				}
				c.gatedBy = j + 1
			}
			at[b] = len(cmds)
			cmds = append(cmds, c)
		}
	}
	replies, err := s.sendAll(ctx, cmds)
	if err != nil {
		return wrap("batch", err)
	}
	for _, b := range ops {
		if b.done { // skipped
			continue
		}
		if b.send {
			b.reply = replies[at[b]]
		}
		if err := s.readOp(b); err != nil {
			return err
		}
		b.done = true
	}
	for _, b := range ops {
		if b.gatedBy != nil && b.op.Skipped == store.Admitted(b.gatedBy.op) {
			return wrap("batch", errors.New("a conditional operation's gate disagreed with the operation it names"))
		}
	}
	return nil
}

// readOp sets the result of b's operation from its reply, with the code
// of the operation's method.
func (s *Store) readOp(b *batchOp) error {
	op := b.op
	op.Skipped = b.gate != "" && b.reply.(*redis.Cmd).Val() == int64(-1)
	if op.Skipped { // its script found no gate and did nothing
		op.Bounded, op.Status = nil, store.CodeNotFound
		return nil
	}
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
	case store.OpAdvance:
		op.First, err = readMark(b.reply, "advance")
	case store.OpResetCounter:
		err = readReset(b.reply)
	case store.OpTouchEnrollment:
		if b.send {
			err = readTouch(b.reply)
		}
	case store.OpConsumeCode:
		op.Status, err = readConsume(b.reply)
	case store.OpPutCode:
		err = readPut(b.reply)
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
