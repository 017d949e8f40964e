package webauthn_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL, for the store=postgres runs
	"github.com/redis/go-redis/v9"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/testenv"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/redisstore"
	"github.com/twofactorkit/twofactor/store/sqlstore"
	"github.com/twofactorkit/twofactor/webauthn"
)

// BenchmarkServiceLogin measures a security-key login through the
// Service, one at a time: Begin, Start and Verify of an assertion, by a
// key that registered with a signature counter and counts (key=counting)
// or by one that always reports zero, as most passkeys do (key=zero), on
// the memory store, a Redis server and PostgreSQL (the latter two as
// `make test` starts them). The key's signing, the browser's part, is not
// timed. On the servers a login's time is mostly its round trips: compare
// binaries of two versions alternately, in the same minutes.
func BenchmarkServiceLogin(b *testing.B) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		open func(b *testing.B) store.Store
	}{
		{"memory", func(*testing.B) store.Store { return store.NewMemory(time.Now) }},
		{"redis", func(b *testing.B) store.Store {
			rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(b)})
			prefix := fmt.Sprintf("wabench:%d:", time.Now().UnixNano())
			b.Cleanup(func() {
				keys, _ := rdb.Keys(ctx, prefix+"*").Result()
				if len(keys) > 0 {
					rdb.Del(ctx, keys...)
				}
				_ = rdb.Close()
			})
			s, err := redisstore.New(rdb, redisstore.Options{Prefix: prefix})
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"postgres", func(b *testing.B) store.Store {
			db, err := sql.Open("pgx", testenv.PostgresDSN(b))
			if err != nil {
				b.Fatal(err)
			}
			s, err := sqlstore.New(db, sqlstore.Options{Dialect: sqlstore.Postgres, TablePrefix: fmt.Sprintf("wabench%d_", time.Now().UnixNano()%1e6)})
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.DropTables(ctx); _ = db.Close() })
			return s
		}},
	} {
		for _, key := range []string{"counting", "zero"} {
			b.Run("store="+tc.name+"/key="+key, func(b *testing.B) { benchServiceLogin(b, tc.open(b), key == "zero") })
		}
	}
}

// benchServiceLogin is BenchmarkServiceLogin on st, with a key that always
// reports zero when zero is set.
func benchServiceLogin(b *testing.B, st store.Store, zero bool) {
	ctx := context.Background()
	fx := newFixture(b, func(env *twofactor.Env, _ *webauthn.Config) { env.Store, env.Now = st, time.Now })
	svc, err := twofactor.New(twofactor.Config{Store: st, Keys: fx.keys, Factors: []twofactor.FactorConfig{fx.cfg},
		Users: fx.users, Events: &event.Sink{Discard: true}})
	if err != nil {
		b.Fatal(err)
	}
	f, _ := svc.Factor(twofactor.MethodWebAuthn)
	fx.f = f.(*webauthn.Factor)
	k := newSoftKey(b, testRPID, testOrigin)
	var mod assertOpts
	if zero {
		mod.count = new(uint32)
	} else {
		k.count = 1
	}
	fx.register(k, "key")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		begun, err := svc.Begin(ctx, fx.user, twofactor.Client{})
		if err != nil {
			b.Fatal(err)
		}
		opts, err := svc.Start(ctx, begun.Challenge.ID, twofactor.MethodWebAuthn)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		answer := string(k.get(b, opts, mod))
		b.StartTimer()
		if _, err := svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: twofactor.MethodWebAuthn, Code: answer}); err != nil {
			b.Fatal(err)
		}
	}
}
