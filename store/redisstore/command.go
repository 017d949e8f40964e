package redisstore

import (
	"context"
	"errors"

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
// c is the client.
func plainCommand(send func(ctx context.Context, c redis.Cmdable) redis.Cmder) command {
	return command{plain: send}
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

// sendAll sends cmds in one round trip, in order, and returns their
// replies in the same order: alone for a single command (run), pipelined
// otherwise (on a cluster or a ring, one pipeline per node, in parallel).
// A reply that is an error is the caller's to read; an error of the
// pipeline itself (the connection, the context) is returned.
//
// A script call that its server answered NOSCRIPT did not run, the
// server not having the script cached yet (first use, SCRIPT FLUSH, a
// restart; on a cluster, one node of several). It is sent again with EVAL
// in one more pipeline, and with it every plain command that followed it
// in cmds, so that a read or a DEL that came after it still comes after
// it, and reads what it wrote. A script call that ran is never sent again.
// (A later script call on the same keys is a call of the same script,
// which its server refused too, unless the script was loaded between the
// two: a race with a first use that is not worth a round trip.) A
// conditional script, which runs only when it deletes the gate that an
// earlier script of cmds sets, is sent again when that script is: having
// found no gate, it did nothing.
func (s *Store) sendAll(ctx context.Context, cmds []command) ([]redis.Cmder, error) {
	out := make([]redis.Cmder, len(cmds))
	switch len(cmds) {
	case 0:
		return out, nil
	case 1:
		out[0] = cmds[0].run(ctx, s.rdb)
		return out, nil
	}
	pipe := s.pipeline()
	for i, c := range cmds {
		out[i] = c.queue(ctx, pipe, false)
	}
	if err := execPipe(ctx, pipe); err != nil {
		return nil, err
	}
	first := -1
	for i, c := range out {
		if noScript(c.Err()) {
			first = i
			break
		}
	}
	if first < 0 {
		return out, nil
	}
	pipe = s.pipeline()
	again := make([]bool, len(cmds))
	for i := first; i < len(cmds); i++ {
		c := cmds[i]
		if c.script == nil || noScript(out[i].Err()) || (c.gatedBy > 0 && again[c.gatedBy-1]) {
			out[i] = c.queue(ctx, pipe, true)
			again[i] = true
		}
	}
	if err := execPipe(ctx, pipe); err != nil {
		return nil, err
	}
	return out, nil
}

// pipeline is a new pipeline: on one server a transaction (MULTI ...
// EXEC), which the server runs with no other client's command between two
// of its own.
func (s *Store) pipeline() redis.Pipeliner {
	if _, single := s.rdb.(*redis.Client); single {
		return s.rdb.TxPipeline()
	}
	return s.rdb.Pipeline()
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
