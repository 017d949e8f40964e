// Package eventlog keeps the events a Service or a factor emits, for
// tests: give Log.Hook to an event.Sink and read what arrived.
package eventlog

import (
	"context"
	"slices"
	"sync"

	"github.com/twofactorkit/twofactor/event"
)

// Log is the events received by Hook, in order. The zero Log is empty and
// ready; it is safe for concurrent use.
type Log struct {
	mu  sync.Mutex
	evs []event.Event
}

// Hook records ev: an event.Sink's Hook.
func (l *Log) Hook(_ context.Context, ev event.Event) {
	l.mu.Lock()
	l.evs = append(l.evs, ev)
	l.mu.Unlock()
}

// All returns a copy of every event received.
func (l *Log) All() []event.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.evs)
}

// OfType returns the events of type ty, in order.
func (l *Log) OfType(ty event.Type) []event.Event {
	var out []event.Event
	for _, ev := range l.All() {
		if ev.Type == ty {
			out = append(out, ev)
		}
	}
	return out
}

// Reasons returns the reasons of the events of type ty, in order.
func (l *Log) Reasons(ty event.Type) []event.Reason {
	var out []event.Reason
	for _, ev := range l.OfType(ty) {
		out = append(out, ev.Reason)
	}
	return out
}

// Reset forgets every event received.
func (l *Log) Reset() {
	l.mu.Lock()
	l.evs = nil
	l.mu.Unlock()
}
