package redisstore

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/redis/go-redis/v9"
)

// A command is the one Redis command of an operation, made before anything
// is sent: a call of a script (its keys and arguments) or a plain command.
// A method runs its command alone (run); RunBatch sends the commands of
// its operations in one pipeline (sendAll). Either way the method's own
// function reads the reply, so an operation means the same in a batch.
type command struct {
	script *redis.Script
	keys   []string
	args   []any
	plain  func(ctx context.Context, c redis.Cmdable) redis.Cmder
	// key is the one key a plain command reads or writes.
	key string
	// gatedBy is, in a pipeline, one more than the index of the command
	// that sets the gate this script deletes (a conditional operation),
	// and 0 for any other command.
	gatedBy int
}

// scriptCommand is a call of script.
func scriptCommand(script *redis.Script, keys []string, args ...any) command {
	return command{script: script, keys: keys, args: args}
}

// plainCommand is the command that send queues on c, or sends on it when
// c is the client; key is the one key it reads or writes.
func plainCommand(key string, send func(ctx context.Context, c redis.Cmdable) redis.Cmder) command {
	return command{plain: send, key: key}
}

// slotTag is what Redis Cluster hashes to place c: the hash tag of its
// key, or of its first key (the keys of a script are of one slot).
func (c command) slotTag() string {
	if c.script != nil && len(c.keys) > 0 {
		return hashTag(c.keys[0])
	}
	return hashTag(c.key)
}

// run sends c alone, in one round trip: a script as EVALSHA, then, when
// the server does not have it cached, as EVAL (redis.Script.Run), which
// caches it.
func (c command) run(ctx context.Context, rdb redis.UniversalClient) redis.Cmder {
	if c.script != nil {
		return c.script.Run(ctx, rdb, c.keys, c.args...)
	}
	return c.plain(ctx, rdb)
}

// queue adds c to p: a script as EVALSHA, or, with eval, as EVAL.
func (c command) queue(ctx context.Context, p redis.Pipeliner, eval bool) redis.Cmder {
	switch {
	case c.script == nil:
		return c.plain(ctx, p)
	case eval:
		return c.script.Eval(ctx, p, c.keys, c.args...)
	}
	return c.script.EvalSha(ctx, p, c.keys, c.args...)
}

// sendAll sends cmds and returns their replies in the order of cmds: alone
// for a single command (run), otherwise pipelined in transactions (MULTI
// ... EXEC), which the server runs with no other client's command between
// two of their own. On a *redis.Client that is one transaction, one round
// trip, in the order of cmds. On any other client (a Redis Cluster, a
// Ring), where a transaction cannot span hash slots, the commands on the
// keys of one slot are one transaction when they are several, and the
// commands alone in their slot one plain pipeline (one per node), all sent
// at once: a round trip's time, in as many requests. So the commands of
// one slot run in order and isolated, as on one server; those of
// different slots, which share no key, in no order between them. A reply
// that is an error is the caller's to read; an error of a pipeline itself
// (the connection, the context) is returned.
//
// A script call that its server answered NOSCRIPT did not run, the
// server not having the script cached yet (first use, SCRIPT FLUSH, a
// restart; on a cluster, one node of several). It is sent again with EVAL
// in one more pipeline, and with it every plain command that followed it
// in its pipeline, so that a read or a DEL that came after it still comes
// after it, and reads what it wrote. A script call that ran is never sent
// again. (A later script call on the same keys is a call of the same
// script, which its server refused too, unless the script was loaded
// between the two: a race with a first use that is not worth a round
// trip.) A conditional script, which runs only when it deletes the gate
// that an earlier script of cmds sets, is sent again when that script is:
// having found no gate, it did nothing.
func (s *Store) sendAll(ctx context.Context, cmds []command) ([]redis.Cmder, error) {
	out := make([]redis.Cmder, len(cmds))
	switch len(cmds) {
	case 0:
		return out, nil
	case 1:
		out[0] = cmds[0].run(ctx, s.rdb)
		return out, nil
	}
	if _, single := s.rdb.(*redis.Client); single {
		return out, s.sendPipe(ctx, cmds, nil, true, out)
	}
	var alone []int
	var txs [][]int
	for _, g := range bySlot(cmds) {
		if len(g) == 1 {
			alone = append(alone, g[0])
		} else {
			txs = append(txs, g)
		}
	}
	if len(txs) == 0 {
		return out, s.sendPipe(ctx, cmds, alone, false, out)
	}
	if len(txs) == 1 && alone == nil {
		return out, s.sendPipe(ctx, cmds, txs[0], true, out)
	}
	errs := make([]error, len(txs)+1)
	var wg sync.WaitGroup
	for i, g := range txs {
		wg.Go(func() { errs[i] = s.sendPipe(ctx, cmds, g, true, out) })
	}
	if alone != nil {
		errs[len(txs)] = s.sendPipe(ctx, cmds, alone, false, out)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// bySlot returns the indexes of cmds grouped by hash tag, each group in
// the order of cmds, the groups in the order of their first command.
// (Commands of different tags that share a slot are in different groups.)
func bySlot(cmds []command) [][]int {
	var groups [][]int
	var tags []string
	for i, c := range cmds {
		tag := c.slotTag()
		j := slices.Index(tags, tag)
		if j < 0 {
			j = len(groups)
			tags = append(tags, tag)
			groups = append(groups, nil)
		}
		groups[j] = append(groups[j], i)
	}
	return groups
}

// sendPipe sends the commands of cmds at idx (nil: all of them), in that
// order, in one pipeline, a transaction when tx is set, and stores their
// replies in out at the same indexes; then it sends again those refused
// with NOSCRIPT (see sendAll).
func (s *Store) sendPipe(ctx context.Context, cmds []command, idx []int, tx bool, out []redis.Cmder) error {
	n := len(idx)
	at := func(k int) int { return idx[k] }
	if idx == nil {
		n, at = len(cmds), func(k int) int { return k }
	}
	pipeline := s.rdb.Pipeline
	if tx {
		pipeline = s.rdb.TxPipeline
	}
	pipe := pipeline()
	for k := range n {
		out[at(k)] = cmds[at(k)].queue(ctx, pipe, false)
	}
	if err := execPipe(ctx, pipe); err != nil {
		return err
	}
	first := -1
	for k := range n {
		if noScript(out[at(k)].Err()) {
			first = k
			break
		}
	}
	if first < 0 {
		return nil
	}
	pipe = pipeline()
	again := make([]bool, len(cmds))
	for k := first; k < n; k++ {
		i := at(k)
		c := cmds[i]
		if c.script == nil || noScript(out[i].Err()) || (c.gatedBy > 0 && again[c.gatedBy-1]) {
			out[i] = c.queue(ctx, pipe, true)
			again[i] = true
		}
	}
	return execPipe(ctx, pipe)
}

// execPipe sends the pipeline p and returns its error unless it is only the
// error reply of one of its commands (including redis.Nil), which that
// command holds.
func execPipe(ctx context.Context, p redis.Pipeliner) error {
	_, err := p.Exec(ctx)
	var reply redis.Error
	if err != nil && !errors.As(err, &reply) {
		return err
	}
	return nil
}

// noScript reports whether err is the NOSCRIPT reply of EVALSHA: the
// script did not run.
func noScript(err error) bool { return err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") }
