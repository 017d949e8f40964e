// Package storespy wraps a store for tests and benchmarks: it counts calls
// (each is one round trip to a server store) and can make chosen
// operations fail, to prove that flows fail closed and that bad input costs
// no store access.
package storespy

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twofactorkit/twofactor/store"
)

// Spy wraps a store. Build it with New.
type Spy struct {
	store.Store
	// Calls counts every call, a batch of counters as one when the wrapped
	// store supports batches.
	Calls atomic.Int64
	// Checked counts the codes checked: ConsumeCode calls, and the
	// OpConsumeCode operations of batches that ran (not Skipped).
	Checked atomic.Int64
	// Touches counts the writes of an enrollment's last use:
	// TouchEnrollment calls, and the OpTouchEnrollment operations of
	// batches that ran.
	Touches atomic.Int64

	mu   sync.Mutex
	fail map[string]error
}

// New wraps s.
func New(s store.Store) *Spy { return &Spy{Store: s} }

// Fail makes the operation op (a method name such as "PutState" or "Incr";
// "*" for every operation) return err from now on; a nil err restores it.
// "Incr" covers batched increments too.
func (c *Spy) Fail(op string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail == nil {
		c.fail = map[string]error{}
	}
	if err == nil {
		delete(c.fail, op)
		return
	}
	c.fail[op] = err
}

func (c *Spy) hit(op string) error {
	c.Calls.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err, ok := c.fail[op]; ok {
		return err
	}
	return c.fail["*"]
}

// IncrBatch implements store.BatchCounters.
func (c *Spy) IncrBatch(ctx context.Context, incrs []store.CounterIncr) ([]store.CounterValue, error) {
	if b, ok := c.Store.(store.BatchCounters); ok {
		if err := c.hit("Incr"); err != nil {
			return nil, err
		}
		return b.IncrBatch(ctx, incrs)
	}
	return store.IncrAll(ctx, spyCounters{c}, incrs)
}

// TakeStateReset implements store.StateResetter: one round trip when the
// store has it, counted as a "TakeStateReset"; otherwise TakeState and a
// ResetCounter each, as the Service does on such a store.
func (c *Spy) TakeStateReset(ctx context.Context, key string, counters []string) ([]byte, error) {
	if r, ok := c.Store.(store.StateResetter); ok {
		if err := c.hit("TakeStateReset"); err != nil {
			return nil, err
		}
		return r.TakeStateReset(ctx, key, counters)
	}
	v, err := c.TakeState(ctx, key)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	for _, k := range counters {
		if rerr := c.ResetCounter(ctx, k); rerr != nil {
			return nil, rerr
		}
	}
	return v, err
}

// IncrBelow implements store.BoundedCounters: one round trip when the
// store has it, counted as an "Incr".
func (c *Spy) IncrBelow(ctx context.Context, incrs []store.BoundedIncr) ([]store.BoundedValue, error) {
	if b, ok := c.Store.(store.BoundedCounters); ok {
		if err := c.hit("Incr"); err != nil {
			return nil, err
		}
		return b.IncrBelow(ctx, incrs)
	}
	return store.IncrAllBelow(ctx, spyCounters{c}, incrs, time.Now())
}

// opMethods names the method of each kind of batch operation, for Fail.
var opMethods = map[store.OpKind]string{
	store.OpPeek: "Peek", store.OpGetState: "GetState", store.OpListEnrollments: "ListEnrollments",
	store.OpIncrBelow: "Incr", store.OpMarkUsed: "MarkUsed", store.OpResetCounter: "ResetCounter",
	store.OpTouchEnrollment: "TouchEnrollment", store.OpConsumeCode: "ConsumeCode", store.OpPutCode: "PutCode",
	store.OpAdvance: "Advance",
}

// RunBatch implements store.Batcher: one round trip when the store has
// it, counted once; it fails as "RunBatch", and as any method one of its
// operations names that Fail was told of. On a store without it the
// operations run one by one through the Spy, each counted.
func (c *Spy) RunBatch(ctx context.Context, ops []store.Op) error {
	b, ok := c.Store.(store.Batcher)
	if !ok {
		if err := store.CheckOps(ops); err != nil {
			return err
		}
		for i := range ops {
			if store.SkipOp(ops, i) {
				continue
			}
			if err := store.RunOp(ctx, c, &ops[i], time.Now()); err != nil {
				return err
			}
		}
		return nil
	}
	if err := c.hit("RunBatch"); err != nil {
		return err
	}
	c.mu.Lock()
	var err error
	for i := range ops {
		if e, ok := c.fail[opMethods[ops[i].Kind]]; ok && err == nil {
			err = e
		}
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	err = b.RunBatch(ctx, ops)
	for i := range ops {
		if err == nil && ops[i].Kind == store.OpConsumeCode && !ops[i].Skipped {
			c.Checked.Add(1)
		}
		if err == nil && ops[i].Kind == store.OpTouchEnrollment && !ops[i].Skipped {
			c.Touches.Add(1)
		}
	}
	return err
}

type spyCounters struct{ c *Spy }

func (sc spyCounters) Incr(ctx context.Context, k string, w time.Duration) (int64, time.Time, error) {
	return sc.c.Incr(ctx, k, w)
}
func (sc spyCounters) Peek(ctx context.Context, k string) (int64, time.Time, error) {
	return sc.c.Peek(ctx, k)
}
func (sc spyCounters) Decr(ctx context.Context, k string) error { return sc.c.Decr(ctx, k) }
func (sc spyCounters) ResetCounter(ctx context.Context, k string) error {
	return sc.c.ResetCounter(ctx, k)
}

// The methods below count, fail when told to, and forward.

func (c *Spy) PutState(ctx context.Context, k string, v []byte, e time.Time) error {
	if err := c.hit("PutState"); err != nil {
		return err
	}
	return c.Store.PutState(ctx, k, v, e)
}
func (c *Spy) GetState(ctx context.Context, k string) ([]byte, error) {
	if err := c.hit("GetState"); err != nil {
		return nil, err
	}
	return c.Store.GetState(ctx, k)
}
func (c *Spy) TakeState(ctx context.Context, k string) ([]byte, error) {
	if err := c.hit("TakeState"); err != nil {
		return nil, err
	}
	return c.Store.TakeState(ctx, k)
}
func (c *Spy) DeleteState(ctx context.Context, k string) error {
	if err := c.hit("DeleteState"); err != nil {
		return err
	}
	return c.Store.DeleteState(ctx, k)
}
func (c *Spy) PutOwnedState(ctx context.Context, o, k string, v []byte, e time.Time) error {
	if err := c.hit("PutOwnedState"); err != nil {
		return err
	}
	return c.Store.PutOwnedState(ctx, o, k, v, e)
}
func (c *Spy) DeleteOwnedStates(ctx context.Context, o string) error {
	if err := c.hit("DeleteOwnedStates"); err != nil {
		return err
	}
	return c.Store.DeleteOwnedStates(ctx, o)
}

// TouchEnrollment implements store.EnrollmentToucher when the wrapped store
// does; otherwise it reads and rewrites the record, as factors do.
func (c *Spy) TouchEnrollment(ctx context.Context, u, id string, used time.Time) error {
	if err := c.hit("TouchEnrollment"); err != nil {
		return err
	}
	c.Touches.Add(1)
	if t, ok := c.Store.(store.EnrollmentToucher); ok {
		return t.TouchEnrollment(ctx, u, id, used)
	}
	rec, err := c.Store.GetEnrollment(ctx, u, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	if used.After(rec.LastUsedAt) {
		rec.LastUsedAt = used
		return c.Store.PutEnrollment(ctx, rec)
	}
	return nil
}
func (c *Spy) PutCode(ctx context.Context, code store.Code) error {
	if err := c.hit("PutCode"); err != nil {
		return err
	}
	return c.Store.PutCode(ctx, code)
}
func (c *Spy) ConsumeCode(ctx context.Context, g, k string, h []byte) (store.CodeStatus, error) {
	if err := c.hit("ConsumeCode"); err != nil {
		return store.CodeNotFound, err
	}
	c.Checked.Add(1)
	return c.Store.ConsumeCode(ctx, g, k, h)
}
func (c *Spy) DeleteCode(ctx context.Context, g, k string) error {
	if err := c.hit("DeleteCode"); err != nil {
		return err
	}
	return c.Store.DeleteCode(ctx, g, k)
}
func (c *Spy) DeleteGroup(ctx context.Context, g string) error {
	if err := c.hit("DeleteGroup"); err != nil {
		return err
	}
	return c.Store.DeleteGroup(ctx, g)
}
func (c *Spy) CountGroup(ctx context.Context, g string) (int, error) {
	if err := c.hit("CountGroup"); err != nil {
		return 0, err
	}
	return c.Store.CountGroup(ctx, g)
}
func (c *Spy) Incr(ctx context.Context, k string, w time.Duration) (int64, time.Time, error) {
	if err := c.hit("Incr"); err != nil {
		return 0, time.Time{}, err
	}
	return c.Store.Incr(ctx, k, w)
}
func (c *Spy) Peek(ctx context.Context, k string) (int64, time.Time, error) {
	if err := c.hit("Peek"); err != nil {
		return 0, time.Time{}, err
	}
	return c.Store.Peek(ctx, k)
}
func (c *Spy) Decr(ctx context.Context, k string) error {
	if err := c.hit("Decr"); err != nil {
		return err
	}
	return c.Store.Decr(ctx, k)
}
func (c *Spy) ResetCounter(ctx context.Context, k string) error {
	if err := c.hit("ResetCounter"); err != nil {
		return err
	}
	return c.Store.ResetCounter(ctx, k)
}
func (c *Spy) MarkUsed(ctx context.Context, k string, e time.Time) (bool, error) {
	if err := c.hit("MarkUsed"); err != nil {
		return false, err
	}
	return c.Store.MarkUsed(ctx, k, e)
}
func (c *Spy) Advance(ctx context.Context, k string, v int64, e time.Time) (bool, error) {
	if err := c.hit("Advance"); err != nil {
		return false, err
	}
	return c.Store.Advance(ctx, k, v, e)
}
func (c *Spy) PutEnrollment(ctx context.Context, e store.EnrollmentRecord) error {
	if err := c.hit("PutEnrollment"); err != nil {
		return err
	}
	return c.Store.PutEnrollment(ctx, e)
}
func (c *Spy) GetEnrollment(ctx context.Context, u, id string) (store.EnrollmentRecord, error) {
	if err := c.hit("GetEnrollment"); err != nil {
		return store.EnrollmentRecord{}, err
	}
	return c.Store.GetEnrollment(ctx, u, id)
}
func (c *Spy) ListEnrollments(ctx context.Context, u string) ([]store.EnrollmentRecord, error) {
	if err := c.hit("ListEnrollments"); err != nil {
		return nil, err
	}
	return c.Store.ListEnrollments(ctx, u)
}
func (c *Spy) DeleteEnrollment(ctx context.Context, u, id string) error {
	if err := c.hit("DeleteEnrollment"); err != nil {
		return err
	}
	return c.Store.DeleteEnrollment(ctx, u, id)
}
func (c *Spy) PutDevice(ctx context.Context, d store.Device) error {
	if err := c.hit("PutDevice"); err != nil {
		return err
	}
	return c.Store.PutDevice(ctx, d)
}
func (c *Spy) GetDevice(ctx context.Context, id string) (store.Device, error) {
	if err := c.hit("GetDevice"); err != nil {
		return store.Device{}, err
	}
	return c.Store.GetDevice(ctx, id)
}
func (c *Spy) ListDevices(ctx context.Context, u string) ([]store.Device, error) {
	if err := c.hit("ListDevices"); err != nil {
		return nil, err
	}
	return c.Store.ListDevices(ctx, u)
}
func (c *Spy) DeleteDevice(ctx context.Context, id string) error {
	if err := c.hit("DeleteDevice"); err != nil {
		return err
	}
	return c.Store.DeleteDevice(ctx, id)
}
