// Package storecount wraps a store to count its calls, for tests and
// benchmarks that report store round trips.
package storecount

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/twofactorkit/twofactor/store"
)

// Counting wraps a store and counts its calls: each is one round trip to a
// server store. A batch of counters (store.BatchCounters) counts as one
// when the wrapped store supports batches.
type Counting struct {
	store.Store
	Calls atomic.Int64
}

func (c *Counting) hit() { c.Calls.Add(1) }

// IncrBatch implements store.BatchCounters.
func (c *Counting) IncrBatch(ctx context.Context, incrs []store.CounterIncr) ([]store.CounterValue, error) {
	if b, ok := c.Store.(store.BatchCounters); ok {
		c.hit()
		return b.IncrBatch(ctx, incrs)
	}
	return store.IncrAll(ctx, countingCounters{c}, incrs)
}

type countingCounters struct{ c *Counting }

func (cc countingCounters) Incr(ctx context.Context, k string, w time.Duration) (int64, time.Time, error) {
	return cc.c.Incr(ctx, k, w)
}
func (cc countingCounters) Peek(ctx context.Context, k string) (int64, time.Time, error) {
	return cc.c.Peek(ctx, k)
}
func (cc countingCounters) ResetCounter(ctx context.Context, k string) error {
	return cc.c.ResetCounter(ctx, k)
}

// The methods below count and forward.

func (c *Counting) PutState(ctx context.Context, k string, v []byte, e time.Time) error {
	c.hit()
	return c.Store.PutState(ctx, k, v, e)
}
func (c *Counting) GetState(ctx context.Context, k string) ([]byte, error) {
	c.hit()
	return c.Store.GetState(ctx, k)
}
func (c *Counting) TakeState(ctx context.Context, k string) ([]byte, error) {
	c.hit()
	return c.Store.TakeState(ctx, k)
}
func (c *Counting) DeleteState(ctx context.Context, k string) error {
	c.hit()
	return c.Store.DeleteState(ctx, k)
}
func (c *Counting) PutCode(ctx context.Context, code store.Code) error {
	c.hit()
	return c.Store.PutCode(ctx, code)
}
func (c *Counting) ConsumeCode(ctx context.Context, g, k string, h []byte) (store.CodeStatus, error) {
	c.hit()
	return c.Store.ConsumeCode(ctx, g, k, h)
}
func (c *Counting) DeleteCode(ctx context.Context, g, k string) error {
	c.hit()
	return c.Store.DeleteCode(ctx, g, k)
}
func (c *Counting) DeleteGroup(ctx context.Context, g string) error {
	c.hit()
	return c.Store.DeleteGroup(ctx, g)
}
func (c *Counting) CountGroup(ctx context.Context, g string) (int, error) {
	c.hit()
	return c.Store.CountGroup(ctx, g)
}
func (c *Counting) Incr(ctx context.Context, k string, w time.Duration) (int64, time.Time, error) {
	c.hit()
	return c.Store.Incr(ctx, k, w)
}
func (c *Counting) Peek(ctx context.Context, k string) (int64, time.Time, error) {
	c.hit()
	return c.Store.Peek(ctx, k)
}
func (c *Counting) ResetCounter(ctx context.Context, k string) error {
	c.hit()
	return c.Store.ResetCounter(ctx, k)
}
func (c *Counting) MarkUsed(ctx context.Context, k string, e time.Time) (bool, error) {
	c.hit()
	return c.Store.MarkUsed(ctx, k, e)
}
func (c *Counting) Advance(ctx context.Context, k string, v int64, e time.Time) (bool, error) {
	c.hit()
	return c.Store.Advance(ctx, k, v, e)
}
func (c *Counting) PutEnrollment(ctx context.Context, e store.EnrollmentRecord) error {
	c.hit()
	return c.Store.PutEnrollment(ctx, e)
}
func (c *Counting) GetEnrollment(ctx context.Context, u, id string) (store.EnrollmentRecord, error) {
	c.hit()
	return c.Store.GetEnrollment(ctx, u, id)
}
func (c *Counting) ListEnrollments(ctx context.Context, u string) ([]store.EnrollmentRecord, error) {
	c.hit()
	return c.Store.ListEnrollments(ctx, u)
}
func (c *Counting) DeleteEnrollment(ctx context.Context, u, id string) error {
	c.hit()
	return c.Store.DeleteEnrollment(ctx, u, id)
}
func (c *Counting) PutDevice(ctx context.Context, d store.Device) error {
	c.hit()
	return c.Store.PutDevice(ctx, d)
}
func (c *Counting) GetDevice(ctx context.Context, id string) (store.Device, error) {
	c.hit()
	return c.Store.GetDevice(ctx, id)
}
func (c *Counting) ListDevices(ctx context.Context, u string) ([]store.Device, error) {
	c.hit()
	return c.Store.ListDevices(ctx, u)
}
func (c *Counting) DeleteDevice(ctx context.Context, id string) error {
	c.hit()
	return c.Store.DeleteDevice(ctx, id)
}
