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
	boundedGate    = "g" // decide and write, and set the gates when nothing was refused
	boundedWait    = "w" // decide and write only when a gate is there to delete
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
//
// A Check entry is read by every step, and refuses the call when full,
// but no step increments it, so there is never one to take back.
func (s *Store) IncrBelow(ctx context.Context, incrs []store.BoundedIncr) ([]store.BoundedValue, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	groups, err := s.boundedPrep(incrs, now)
	if err != nil || len(groups) == 0 {
		return nil, err
	}
	out := make([]store.BoundedValue, len(incrs))
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

// boundedPrep checks the entries of an IncrBelow call made at t and
// returns their groups (boundedGroups): none for no entry, one for a call
// that is one script.
func (s *Store) boundedPrep(incrs []store.BoundedIncr, t time.Time) ([]*boundedGroup, error) {
	for _, in := range incrs {
		if err := checkID("counter key", in.Key); err != nil {
			return nil, err
		}
	}
	if err := store.CheckBounded(incrs); err != nil {
		return nil, invalid("%v", err)
	}
	return s.boundedGroups(incrs, t), nil
}

// Flags of an entry of the incrBelow script.
const (
	boundedCountRefused = 1 // BoundedIncr.CountRefused
	boundedCheckOnly    = 2 // BoundedIncr.Check
)

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
	var byTag map[string]*boundedGroup
	var groups []*boundedGroup
	if single && len(incrs) > 0 { // one group, sized for every entry
		n := 0
		for _, in := range incrs {
			n += 6 + 2*len(in.Steps)
		}
		groups = []*boundedGroup{{idx: make([]int, 0, len(incrs)), keys: make([]string, 0, len(incrs)), args: make([]any, 0, n)}}
	} else {
		byTag = make(map[string]*boundedGroup)
	}
	for i, in := range incrs {
		key := s.counterKey(in.Key)
		var g *boundedGroup
		if byTag == nil {
			g = groups[0]
		} else if tag := hashTag(key); byTag[tag] != nil {
			g = byTag[tag]
		} else {
			g = &boundedGroup{}
			byTag[tag] = g
			groups = append(groups, g)
		}
		end := t.Add(in.Window).UnixMilli()
		flags := 0
		if in.CountRefused {
			flags |= boundedCountRefused
		}
		if in.Check {
			flags |= boundedCheckOnly
		}
		g.idx = append(g.idx, i)
		g.keys = append(g.keys, key)
		g.args = append(g.args, end, max(end-now+s.grace, 1), in.Window.Milliseconds(), in.Max, flags, len(in.Steps))
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
			if incrs[i].CountRefused && !incrs[i].Check && !out[i].Full {
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
// counters, which a refused call keeps. A Check entry was never
// incremented, so it has nothing to take back.
func (s *Store) takeBackBounded(ctx context.Context, incrs []store.BoundedIncr, now int64, out []store.BoundedValue) error {
	var back []int
	for i, v := range out {
		if v.Incremented && !incrs[i].CountRefused && !incrs[i].Check {
			back = append(back, i)
		}
	}
	cmds := make([]command, len(back))
	for j, i := range back {
		cmds[j] = s.decrCmd(incrs[i].Key, now)
	}
	replies, err := s.sendAll(ctx, cmds)
	if err != nil {
		return wrap("incr below: taking back", err)
	}
	for j, i := range back {
		if err := replies[j].Err(); err != nil {
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
	cmds := make([]command, len(groups))
	for j, g := range groups {
		cmds[j] = boundedCmd(g, mode, now)
	}
	replies, err := s.sendAll(ctx, cmds)
	if err != nil {
		return wrap("incr below", err)
	}
	for j, g := range groups {
		if err := readBounded(replies[j], incrs, g, out); err != nil {
			return err
		}
	}
	return nil
}

// boundedCmd is the incrBelow script's call in mode on the group g at now
// (Unix ms).
func boundedCmd(g *boundedGroup, mode string, now int64) command {
	args := make([]any, 0, 4+len(g.args)) // room for the gates' TTL and number (gateOp)
	return scriptCommand(incrBelow, g.keys, append(append(args, now, mode), g.args...)...)
}

// readBounded reads the reply of incrBelow on the group g of incrs into
// out, at the indexes of its entries.
func readBounded(c redis.Cmder, incrs []store.BoundedIncr, g *boundedGroup, out []store.BoundedValue) error {
	res, err := c.(*redis.Cmd).Slice()
	if err != nil {
		return wrap("incr below", err)
	}
	if len(res) != 4*len(g.idx) {
		return malformed("incr below: unexpected reply")
	}
	for k, i := range g.idx {
		v, ok := parseBounded(res[4*k:4*k+4], incrs[i])
		if !ok {
			return malformed("incr below: unexpected reply")
		}
		out[i] = v
	}
	return nil
}

// parseBounded reads one counter's four entries of incrBelow's reply:
// count, window end or "", step, flags.
func parseBounded(a []any, in store.BoundedIncr) (store.BoundedValue, bool) {
	n, ok1 := a[0].(int64)
	r, ok2 := a[1].(string)
	step, ok3 := a[2].(int64)
	flags, ok4 := a[3].(int64)
	if !ok1 || !ok2 || !ok3 || !ok4 || n < 0 || step < 0 || step > int64(len(in.Steps)) {
		return store.BoundedValue{}, false
	}
	v := store.BoundedValue{N: n, Max: in.Max, Full: flags&1 != 0, Incremented: flags&2 != 0}
	if step > 0 {
		v.Max = in.Steps[step-1].Max
	}
	if r != "" {
		ms, err := strconv.ParseInt(r, 10, 64)
		if err != nil {
			return store.BoundedValue{}, false
		}
		v.ResetAt = time.UnixMilli(ms)
	}
	return v, true
}
