package redisstore

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/twofactorkit/twofactor/store"
)

var (
	_ store.BoundedCounters = (*Store)(nil)
	_ store.StateResetter   = (*Store)(nil)
)

// Modes of the incrBelow script.
const (
	boundedApply   = "a" // decide and write
	boundedCheck   = "c" // decide only
	boundedRefused = "r" // write the CountRefused counters of a refused call
)

// IncrBelow implements store.BoundedCounters with the incrBelow script,
// which reads every counter of the call and its bound, then writes.
//
// On a *redis.Client (one server, or the primary that Sentinel names) the
// whole call is one script: one round trip, atomic. On any other client (a
// Redis Cluster, a Ring) a script may only touch keys of one hash slot, so
// the call is split into one script per hash slot, the counter keys whose
// hash tag ({...}, or else the whole key) is the same going together:
//
//   - keys of one slot (the library's keys for one user carry the tag
//     {u:<user id>}) make one script, as on a single server;
//   - keys of several slots take two round trips, each a pipeline sent to
//     the nodes in parallel. The first reads every counter and its bound
//     and writes nothing; when a counter is full, the call is refused
//     there, with no count taken and none to give back (the second round
//     trip then only counts the CountRefused counters). Otherwise the
//     second increments each slot's counters, atomically within the slot.
//     A counter that another call filled between the two makes its slot
//     refuse: the call is then refused, and the increments it made in the
//     other slots are taken back with Decr, one more round trip, during
//     which other calls see them. So across slots no counter passes its
//     bound, but racing calls may be refused by counts that are then taken
//     back, and fewer calls be admitted than the bounds allow; a counter
//     created by an increment taken back is left live at zero.
func (s *Store) IncrBelow(ctx context.Context, incrs []store.BoundedIncr) ([]store.BoundedValue, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	if len(incrs) == 0 {
		return nil, nil
	}
	for _, in := range incrs {
		if err := checkID("counter key", in.Key); err != nil {
			return nil, err
		}
	}
	if err := store.CheckBounded(incrs); err != nil {
		return nil, invalid("%v", err)
	}
	now := s.now()
	groups := s.boundedGroups(incrs, now)
	out := make([]store.BoundedValue, len(incrs))
	var err error
	if len(groups) == 1 {
		err = s.runBounded(ctx, incrs, groups, boundedApply, now.UnixMilli(), out)
	} else {
		err = s.incrBelowSplit(ctx, incrs, groups, now.UnixMilli(), out)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// boundedGroup is the entries of an IncrBelow call that one script
// decides: their indexes in the call, their counter keys, and their
// arguments to incrBelow after now and the mode.
type boundedGroup struct {
	idx  []int
	keys []string
	args []any
}

// boundedGroups splits incrs into the groups of keys of one hash slot:
// one group on a *redis.Client, whose server holds every key.
func (s *Store) boundedGroups(incrs []store.BoundedIncr, t time.Time) []*boundedGroup {
	_, single := s.rdb.(*redis.Client)
	now := t.UnixMilli()
	byTag := make(map[string]*boundedGroup)
	var groups []*boundedGroup
	for i, in := range incrs {
		key := s.counterKey(in.Key)
		tag := ""
		if !single {
			tag = hashTag(key)
		}
		g := byTag[tag]
		if g == nil {
			g = &boundedGroup{}
			byTag[tag] = g
			groups = append(groups, g)
		}
		end := t.Add(in.Window).UnixMilli()
		countRefused := 0
		if in.CountRefused {
			countRefused = 1
		}
		g.idx = append(g.idx, i)
		g.keys = append(g.keys, key)
		g.args = append(g.args, end, max(end-now+s.grace, 1), in.Window.Milliseconds(), in.Max, countRefused, len(in.Steps))
		for _, st := range in.Steps {
			g.args = append(g.args, st.After.Milliseconds(), st.Max)
		}
	}
	return groups
}

// hashTag returns what Redis Cluster hashes of key to find its slot: the
// text between the first '{' and the first '}' after it when that is not
// empty, the whole key otherwise. Keys with the same hash tag are in one
// slot.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

// incrBelowSplit runs a call whose keys are in several hash slots: a check
// of every slot, then the increments, and the take-back of a call that a
// slot refused in between (see IncrBelow).
func (s *Store) incrBelowSplit(ctx context.Context, incrs []store.BoundedIncr, groups []*boundedGroup, now int64, out []store.BoundedValue) error {
	if err := s.runBounded(ctx, incrs, groups, boundedCheck, now, out); err != nil {
		return err
	}
	if store.FirstFull(out) < 0 {
		if err := s.runBounded(ctx, incrs, groups, boundedApply, now, out); err != nil {
			return err
		}
		if store.FirstFull(out) < 0 {
			return nil
		}
		return s.takeBackBounded(ctx, incrs, now, out)
	}
	var counting []*boundedGroup
	for _, g := range groups {
		for _, i := range g.idx {
			if incrs[i].CountRefused && !out[i].Full {
				counting = append(counting, g)
				break
			}
		}
	}
	if len(counting) == 0 {
		return nil
	}
	full := make([]bool, len(out))
	for i, v := range out {
		full[i] = v.Full
	}
	err := s.runBounded(ctx, incrs, counting, boundedRefused, now, out)
	for i := range out {
		out[i].Full = out[i].Full || full[i] // the refusal stands
	}
	return err
}

// takeBackBounded takes back, with the Decr script, the increments of a
// call that a slot refused after the check, except those of CountRefused
// counters, which a refused call keeps.
func (s *Store) takeBackBounded(ctx context.Context, incrs []store.BoundedIncr, now int64, out []store.BoundedValue) error {
	var back []int
	for i, v := range out {
		if v.Incremented && !incrs[i].CountRefused {
			back = append(back, i)
		}
	}
	calls := make([]scriptCall, len(back))
	for j, i := range back {
		calls[j] = scriptCall{keys: []string{s.counterKey(incrs[i].Key)}, args: []any{now}}
	}
	cmds, err := s.evalAll(ctx, decr, calls)
	if err != nil {
		return wrap("incr below: taking back", err)
	}
	for j, i := range back {
		if err := cmds[j].Err(); err != nil {
			return wrap("incr below: taking back", err)
		}
		out[i].N--
		out[i].Incremented = false
	}
	return nil
}

// runBounded runs incrBelow in mode on every group, in one round trip, and
// puts each counter's result in out.
func (s *Store) runBounded(ctx context.Context, incrs []store.BoundedIncr, groups []*boundedGroup, mode string, now int64, out []store.BoundedValue) error {
	calls := make([]scriptCall, len(groups))
	for j, g := range groups {
		calls[j] = scriptCall{keys: g.keys, args: append([]any{now, mode}, g.args...)}
	}
	cmds, err := s.evalAll(ctx, incrBelow, calls)
	if err != nil {
		return wrap("incr below", err)
	}
	for j, g := range groups {
		res, err := cmds[j].Slice()
		if err != nil {
			return wrap("incr below", err)
		}
		if len(res) != len(g.idx) {
			return malformed("incr below: unexpected reply")
		}
		for k, i := range g.idx {
			v, err := parseBounded(res[k], incrs[i])
			if err != nil {
				return err
			}
			out[i] = v
		}
	}
	return nil
}

// parseBounded reads one counter's reply of incrBelow: {count, window end
// or "", step, flags}.
func parseBounded(res any, in store.BoundedIncr) (store.BoundedValue, error) {
	bad := malformed("incr below: unexpected reply")
	a, ok := res.([]any)
	if !ok || len(a) != 4 {
		return store.BoundedValue{}, bad
	}
	n, ok1 := a[0].(int64)
	r, ok2 := a[1].(string)
	step, ok3 := a[2].(int64)
	flags, ok4 := a[3].(int64)
	if !ok1 || !ok2 || !ok3 || !ok4 || n < 0 || step < 0 || step > int64(len(in.Steps)) {
		return store.BoundedValue{}, bad
	}
	v := store.BoundedValue{N: n, Max: in.Max, Full: flags&1 != 0, Incremented: flags&2 != 0}
	if step > 0 {
		v.Max = in.Steps[step-1].Max
	}
	if r != "" {
		ms, err := strconv.ParseInt(r, 10, 64)
		if err != nil {
			return store.BoundedValue{}, bad
		}
		v.ResetAt = time.UnixMilli(ms)
	}
	return v, nil
}

// scriptCall is one call of a script: its keys and arguments.
type scriptCall struct {
	keys []string
	args []any
}

// evalAll runs script once per call in one round trip: alone for a single
// call (Run falls back to EVAL when the server does not have the script),
// pipelined otherwise (on a cluster, one pipeline per node, in parallel).
// A pipelined command refused with NOSCRIPT did not run, its node not
// having the script cached yet; it runs again, alone, with EVAL (which
// caches the script). An error of the pipeline other than NOSCRIPT is returned.
func (s *Store) evalAll(ctx context.Context, script *redis.Script, calls []scriptCall) ([]*redis.Cmd, error) {
	cmds := make([]*redis.Cmd, len(calls))
	if len(calls) == 1 {
		cmds[0] = script.Run(ctx, s.rdb, calls[0].keys, calls[0].args...)
		return cmds, nil
	}
	pipe := s.rdb.Pipeline()
	for i, c := range calls {
		cmds[i] = script.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	if _, err := pipe.Exec(ctx); err != nil && !redis.HasErrorPrefix(err, "NOSCRIPT") {
		return nil, err
	}
	for i, c := range cmds {
		if err := c.Err(); err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			cmds[i] = script.Eval(ctx, s.rdb, calls[i].keys, calls[i].args...)
		}
	}
	return cmds, nil
}
