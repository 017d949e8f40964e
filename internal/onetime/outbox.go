package onetime

import (
	"context"
	"slices"
	"sync"
)

// DefaultOutboxMax is how many messages an Outbox keeps by default.
const DefaultOutboxMax = 100

// Outbox keeps the messages of a development sender in memory: the email
// and SMS outboxes are thin wrappers around it. Its zero value is ready to
// use and it is safe for concurrent use.
type Outbox[M any] struct {
	mu   sync.Mutex
	msgs []M
	fail error
}

// Keep stores m, dropping the oldest messages beyond max (zero or less
// means DefaultOutboxMax). It fails with the error set by FailWith, if any.
func (o *Outbox[M]) Keep(ctx context.Context, m M, max int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return o.fail
	}
	if max <= 0 {
		max = DefaultOutboxMax
	}
	o.msgs = append(o.msgs, m)
	if len(o.msgs) > max {
		o.msgs = slices.Delete(o.msgs, 0, len(o.msgs)-max)
	}
	return nil
}

// FailWith makes later Keeps fail with err; nil restores delivery.
func (o *Outbox[M]) FailWith(err error) {
	o.mu.Lock()
	o.fail = err
	o.mu.Unlock()
}

// Messages returns the kept messages, oldest first.
func (o *Outbox[M]) Messages() []M {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.msgs)
}

// Last returns the newest message for which match is true.
func (o *Outbox[M]) Last(match func(M) bool) (M, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.msgs) - 1; i >= 0; i-- {
		if match(o.msgs[i]) {
			return o.msgs[i], true
		}
	}
	var zero M
	return zero, false
}

// Reset forgets every message.
func (o *Outbox[M]) Reset() {
	o.mu.Lock()
	o.msgs = nil
	o.mu.Unlock()
}
