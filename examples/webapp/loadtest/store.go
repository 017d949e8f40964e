package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL, as "pgx", to drop the run's tables
	"github.com/redis/go-redis/v9"

	"github.com/twofactorkit/twofactor/store/sqlstore"
)

const (
	startWait = 10 * time.Minute // the first start seeds thousands of users
	drainWait = 90 * time.Second // logins in flight at the end of the window, a resend's cooldown included
	stopWait  = 30 * time.Second
	sampleGap = 5 * time.Second // memory samples
)

// runStore runs the load against one store: two fresh instances over a
// prefix of their own, dropped at the end.
func runStore(ctx context.Context, o *options, kind, bin, dir string, seed uint64) (_ *result, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	stamp := time.Now().UnixMilli()
	r := &result{store: kind, rate: o.rate, window: o.duration, maxRequests: o.maxRequests, stats: newStats()}
	switch kind {
	case "redis":
		r.dsn, r.prefix = o.redis, fmt.Sprintf("twofactor_load_%d:", stamp)
	case "postgres":
		r.dsn, r.prefix = o.postgres, fmt.Sprintf("load_%d_", stamp)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		r.cleanup, r.cleanupErr = cleanStore(cctx, kind, r.dsn, r.prefix)
		if err != nil && r.cleanupErr != nil {
			err = fmt.Errorf("%w (and cleaning the store: %v)", err, r.cleanupErr)
		}
	}()

	args := []string{"-data", filepath.Join(dir, "data"), "-db", r.dsn, "-prefix", r.prefix,
		"-trusted-proxies", "127.0.0.1/32", "-proxy-header", "X-Forwarded-For"}
	env := childEnv(o.users)
	// One after the other: the first seeds the users, the second finds
	// them.
	for i, name := range []string{"A", "B"} {
		in, err := startInstance(ctx, name, bin, args, env, filepath.Join(dir, "instance-"+name+".log"), startWait)
		if err != nil {
			for _, started := range r.inst[:i] {
				started.stop(stopWait)
			}
			return nil, err
		}
		r.inst[i] = in
	}
	stopped := false
	defer func() {
		if !stopped {
			for _, in := range r.inst {
				in.stop(stopWait)
			}
		}
	}()
	r.notes = append(r.inst[0].notes, r.inst[1].notes...)
	p, password, err := readUsers(filepath.Join(dir, "data", "load-users.json"))
	if err != nil {
		return nil, err
	}
	r.users, r.totpUsers = len(p.totp)+len(p.email), len(p.totp)
	g := &gen{targets: [2]*target{&r.inst[0].target, &r.inst[1].target}, pool: p, password: password,
		client: newClient(), stats: r.stats, totpOpts: totpOpts(p.digits, p.period), maxRequests: o.maxRequests}

	for i, in := range r.inst {
		r.mem[i][0] = in.memory()
	}
	warm := min(max(o.duration/10, 10*time.Second), o.duration/2)
	sampling, stopSampling := context.WithCancel(ctx)
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		r.sample(sampling, warm)
	}()
	start := time.Now()
	r.fired = g.drive(ctx, o.rate, o.duration, drainWait, o.maxInflight, seed)
	r.ran = time.Since(start)
	stopSampling()
	<-sampled
	for i, in := range r.inst {
		if r.mem[i][1].at.IsZero() { // the run ended before the warm-up did
			r.mem[i][1] = r.mem[i][0]
		}
		r.mem[i][2] = in.memory()
		r.samples[i] = append(r.samples[i], r.mem[i][2])
		r.peakKB[i] = max(r.peakKB[i], r.mem[i][2].hwmKB)
	}
	r.start, r.end = g.windowEnd.Add(-o.duration), time.Now()
	r.requests, r.capped = g.requests.Load(), g.capped.Load()

	stopped = true
	for i, in := range r.inst {
		r.stopErr[i] = in.stop(stopWait)
		r.logErrs[i], r.logWarns[i], r.firstErr[i] = in.logCounts()
	}
	return r, ctx.Err()
}

// sample reads the instances' memory every few seconds, keeping the
// sample taken once the warm-up is over, until ctx ends.
func (r *result) sample(ctx context.Context, warm time.Duration) {
	start := time.Now()
	tick := time.NewTicker(sampleGap)
	defer tick.Stop()
	warmed := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for i, in := range r.inst {
			s := in.memory()
			r.samples[i] = append(r.samples[i], s)
			r.peakKB[i] = max(r.peakKB[i], s.hwmKB)
			if !warmed && time.Since(start) >= warm {
				r.mem[i][1] = s
			}
		}
		if time.Since(start) >= warm {
			warmed = true
		}
	}
}

// cleanStore deletes everything the run stored: the Redis keys or the
// SQL tables of its prefix.
func cleanStore(ctx context.Context, kind, dsn, prefix string) (string, error) {
	switch kind {
	case "redis":
		opt, err := redis.ParseURL(dsn)
		if err != nil {
			return "", err
		}
		rdb := redis.NewClient(opt)
		defer rdb.Close()
		n := 0
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var batch []string
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			err := rdb.Del(ctx, batch...).Err()
			n += len(batch)
			batch = batch[:0]
			return err
		}
		for iter.Next(ctx) {
			batch = append(batch, iter.Val())
			if len(batch) == 500 {
				if err := flush(); err != nil {
					return "", err
				}
			}
		}
		if err := iter.Err(); err != nil {
			return "", err
		}
		if err := flush(); err != nil {
			return "", err
		}
		left := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		if left.Next(ctx) {
			return "", fmt.Errorf("keys %s* left after cleaning", prefix)
		}
		if err := left.Err(); err != nil {
			return "", err
		}
		return fmt.Sprintf("%d keys %s* deleted", n, prefix), nil
	case "postgres":
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return "", err
		}
		defer db.Close()
		st, err := sqlstore.New(db, sqlstore.Options{Dialect: sqlstore.Postgres, TablePrefix: prefix, SweepInterval: -1})
		if err != nil {
			return "", err
		}
		defer st.Close()
		if err := st.DropTables(ctx); err != nil {
			return "", err
		}
		var left int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_tables WHERE left(tablename, length($1)) = $1`, prefix).Scan(&left); err != nil {
			return "", err
		}
		if left > 0 {
			return "", fmt.Errorf("%d tables %s* left after dropping", left, prefix)
		}
		return fmt.Sprintf("tables %s* dropped", prefix), nil
	}
	return "", fmt.Errorf("unknown store %q", kind)
}
