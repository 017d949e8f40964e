package trust_test

import (
	"context"
	"testing"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/trust"
)

// BenchmarkCheck measures Trusted on the memory store: a valid cookie (one
// store read, no write), a tampered one (no store access), and the cookie
// parse and signature check alone (what a check costs besides the store).
func BenchmarkCheck(b *testing.B) {
	ctx := context.Background()
	run := func(b *testing.B, edit func(*trust.Config), mutate func(string) string, want bool) {
		e := newEnv(b, edit)
		c, _ := e.remember(b, client("203.0.113.7", uaChromeLinux))
		c.DeviceToken = mutate(c.DeviceToken)
		before := e.store.gets.Load()
		b.ReportAllocs()
		cpu := startCPU()
		for b.Loop() {
			ok, err := e.m.Trusted(ctx, alice, c)
			if err != nil || ok != want {
				b.Fatalf("Trusted = %v, %v", ok, err)
			}
		}
		cpu.report(b)
		b.ReportMetric(float64(e.store.gets.Load()-before)/float64(b.N), "reads/op")
		if e.store.puts.Load() != 1 || e.store.dels.Load() != 0 {
			b.Fatalf("checks wrote to the store")
		}
	}
	same := func(s string) string { return s }
	tamper := func(s string) string {
		bs := []byte(s)
		bs[len(bs)-2] ^= 'A' ^ 'B'
		return string(bs)
	}
	b.Run("valid", func(b *testing.B) { run(b, nil, same, true) })
	b.Run("valid_exact", func(b *testing.B) {
		run(b, func(c *trust.Config) { c.IPBinding = trust.IPExact; c.UABinding = trust.UAExact }, same, true)
	})
	b.Run("tampered", func(b *testing.B) { run(b, nil, tamper, false) })
	b.Run("signature", func(b *testing.B) {
		e := newEnv(b, nil)
		_, g := e.remember(b, client("203.0.113.7", uaChromeLinux))
		b.ReportAllocs()
		cpu := startCPU()
		for b.Loop() {
			if _, ok := e.m.DeviceID("alice", g.Token); !ok {
				b.Fatal("signature refused")
			}
		}
		cpu.report(b)
	})
	b.Run("store_read", func(b *testing.B) {
		// The memory store's read alone, to subtract from "valid".
		e := newEnv(b, nil)
		c, _ := e.remember(b, client("203.0.113.7", uaChromeLinux))
		id, _ := e.m.DeviceID("alice", c.DeviceToken)
		b.ReportAllocs()
		cpu := startCPU()
		for b.Loop() {
			if _, err := e.mem.GetDevice(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b)
	})
}

type cpuStart struct {
	at time.Duration
	ok bool
}

func startCPU() cpuStart {
	at, ok := cpuTime()
	return cpuStart{at, ok}
}

// report adds "cpu-ns/op": process CPU time per operation, which stays
// meaningful when other processes compete for the machine.
func (s cpuStart) report(b *testing.B) {
	end, ok := cpuTime()
	if s.ok && ok && b.N > 0 {
		b.ReportMetric(float64(end-s.at)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkRemember measures issuing a device: id, record write, signature.
func BenchmarkRemember(b *testing.B) {
	e := newEnv(b, nil)
	c := client("203.0.113.7", uaChromeLinux)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.m.Remember(ctx, twofactor.User{ID: "alice"}, c); err != nil {
			b.Fatal(err)
		}
	}
}
