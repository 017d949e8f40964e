package flowtest

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	otptotp "github.com/pquerna/otp/totp"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/backupcodes"
	"github.com/twofactorkit/twofactor/emailcode"
	"github.com/twofactorkit/twofactor/event"
	"github.com/twofactorkit/twofactor/internal/storespy"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/totp"
	"github.com/twofactorkit/twofactor/trust"
)

// Parallelisms are the goroutine counts the login benchmarks run at.
var Parallelisms = []int{1, 8, 64}

// BenchLogin measures complete login flows (Begin, Send an email code,
// Verify it) on st, with n goroutines for each n in Parallelisms. raw is one
// round trip of the bare server through the same pool (SELECT 1, PING); it
// runs in the same benchmark as many times as the flows made round trips,
// in four rounds that alternate with the flows', so the two figures come
// from the same minutes on one machine.
//
// Metrics: flows/s; roundtrips/flow (store calls per flow, a batch of
// counters counting as one); raw-ops/s; limit-fraction, the flows/s
// reached divided by the flows/s the raw round-trip rate would allow
// (raw-ops/s / roundtrips/flow), so 1.0 would mean the library adds
// nothing to the store's own cost; and ideal-fraction, the flows/s
// divided by what six round trips of the bare server allow (raw-ops/s /
// 6), six being what a login needs at the least (Begin one, Send two,
// Verify three): it falls with every round trip a flow makes beyond that.
//
// Baselines add more raw operations measured the same way (for a SQL
// store, a durable one-row write: commits cost what reads do not); each
// reports <name>-ops/s, limit-fraction-<name> and ideal-fraction-<name>.
func BenchLogin(b *testing.B, st store.Store, raw func(context.Context) error, baselines ...Baseline) {
	for _, par := range Parallelisms {
		b.Run(fmt.Sprintf("goroutines=%d", par), func(b *testing.B) {
			benchFlows(b, st, raw, par, baselines, emailOnly)
		})
	}
}

// BenchLoginRealistic is BenchLogin with the factors a real app offers
// (an authenticator app, backup codes, email codes to the address on
// file, trusted devices), for three logins: flow=totp (Begin, Verify a
// code of the user's authenticator app), flow=email (Begin, Send,
// Verify) and flow=backup (Begin, Verify a backup code). Each TOTP login
// is a user of its own, enrolled before the clock starts, so that no code
// is refused as a replay; ten backup-code logins, far apart in the run,
// share a user and a set made before the clock starts, whose last code
// retires the set.
func BenchLoginRealistic(b *testing.B, st store.Store, raw func(context.Context) error, baselines ...Baseline) {
	for _, fl := range []flowKind{realisticTOTP, realisticEmail, realisticBackup} {
		for _, par := range Parallelisms {
			b.Run(fmt.Sprintf("flow=%s/goroutines=%d", fl, par), func(b *testing.B) {
				benchFlows(b, st, raw, par, baselines, fl)
			})
		}
	}
}

// idealTrips is the fewest store round trips a login can make: Begin
// reads what the user has (1), Send checks its limits and stores the code
// (2), Verify reads the challenge, counts the answer and consumes it (3).
const idealTrips = 6

type flowKind string

const (
	emailOnly      flowKind = "email-only"
	realisticTOTP  flowKind = "totp"
	realisticEmail flowKind = "email"
	// realisticBackup signs in with backup codes: ten logins per user, one
	// code of the user's set each, the tenth using the set up; flows run
	// at once are of different users.
	realisticBackup flowKind = "backup"
)

// A Baseline is one more raw server operation to compare flows with.
type Baseline struct {
	Name string
	Op   func(context.Context) error
}

func benchFlows(b *testing.B, st store.Store, raw func(context.Context) error, par int, baselines []Baseline, kind flowKind) {
	ctx := context.Background()
	cs := storespy.New(st)
	key, err := keyring.GenerateKey("bench")
	if err != nil {
		b.Fatal(err)
	}
	keys, _ := keyring.New(key)
	mail := &Mailbox{}
	events := &event.Sink{Discard: true}
	email := emailcode.Config{Sender: mail, Caps: emailcode.Caps{PerUser: 1 << 30, PerDestination: 1 << 30, PerIP: 1 << 30}}
	var shift atomic.Int64 // added to the Service's clock
	clock := func() time.Time { return time.Now().Add(time.Duration(shift.Load())) }
	cfg := twofactor.Config{Store: cs, Keys: keys, Factors: []twofactor.FactorConfig{email},
		Limits: twofactor.Limits{MaxIPAttempts: 1 << 30}, Events: events, Now: clock}
	if kind != emailOnly {
		cfg.Factors = []twofactor.FactorConfig{totp.Config{Issuer: "Bench"}, email, backupcodes.Config{}}
		cfg.Trust = trust.Config{}
	}
	svc, err := twofactor.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	run := fmt.Sprintf("%d", time.Now().UnixNano())
	userOf := func(i int) twofactor.User {
		return twofactor.User{ID: "bench-" + run + "-" + fmt.Sprint(i), Email: fmt.Sprintf("b%s-%d@example.com", run, i)}
	}
	// Before the clock starts, each goroutine runs a few flows and raw
	// operations (warm): a pool opens its connections and a SQL server
	// prepares its statements and plans once, as a running server does
	// at its start, not per login.
	warm := 2 * par
	var secrets []string
	if kind == realisticTOTP {
		// Users enroll a minute in the past, so that the logins' codes,
		// of the current step, are new and show no clock drift.
		shift.Store(int64(-time.Minute))
		secrets = make([]string, b.N+warm)
		tf, _ := svc.Factor(twofactor.MethodTOTP)
		enroller := tf.(twofactor.Enroller)
		if err := spread(b.N+warm, par, func(_, i int) error {
			u := userOf(i)
			enr, err := enroller.BeginEnroll(ctx, u, twofactor.EnrollRequest{})
			if err != nil {
				return err
			}
			code, err := otptotp.GenerateCode(enr.Secret, clock())
			if err != nil {
				return err
			}
			if _, err := enroller.ConfirmEnroll(ctx, u, code); err != nil {
				return err
			}
			secrets[i] = enr.Secret
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		shift.Store(0)
	}
	var sets [][]string // realisticBackup: user k's codes
	if kind == realisticBackup {
		sets = make([][]string, (b.N+warm+9)/10)
		bf, _ := svc.Factor(twofactor.MethodBackupCode)
		enroller := bf.(twofactor.Enroller)
		if err := spread(len(sets), par, func(_, k int) error {
			enr, err := enroller.BeginEnroll(ctx, userOf(k), twofactor.EnrollRequest{})
			if err == nil && len(enr.Codes) != 10 {
				err = fmt.Errorf("a set of %d codes, not 10", len(enr.Codes))
			}
			sets[k] = enr.Codes
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	flow := func(g, i int) error {
		client := clientOf(g)
		user := userOf(g)
		switch kind {
		case realisticTOTP:
			user = userOf(i)
		case realisticBackup:
			user = userOf(i % len(sets))
		}
		begun, err := svc.Begin(ctx, user, client)
		if err != nil {
			return err
		}
		id := begun.Challenge.ID
		a := twofactor.Answer{ChallengeID: id, UserID: user.ID, Client: client}
		switch kind {
		case realisticTOTP:
			a.Method = twofactor.MethodTOTP
			if a.Code, err = otptotp.GenerateCode(secrets[i], time.Now()); err != nil {
				return err
			}
		case realisticBackup:
			a.Method, a.Code = twofactor.MethodBackupCode, sets[i%len(sets)][i/len(sets)]
		default:
			if _, err := svc.Send(ctx, id, twofactor.MethodEmail, client); err != nil {
				return err
			}
			a.Method = twofactor.MethodEmail
			if a.Code, err = mail.Code(user.Email); err != nil {
				return err
			}
		}
		_, err = svc.Verify(ctx, a)
		return err
	}
	// The flows and the raw operations alternate in rounds, so that every
	// rate comes from the same minutes: on a machine whose CPU or disk
	// speed drifts during the run, both move alike.
	const rounds = 4
	ops := []func(context.Context) error{raw}
	for _, bl := range baselines {
		ops = append(ops, bl.Op)
	}
	if err := spread(warm, par, func(g, i int) error { return flow(g, b.N+i) }); err != nil {
		b.Fatal(err)
	}
	for _, op := range ops {
		if err := spread(warm, par, func(int, int) error { return op(ctx) }); err != nil {
			b.Fatal(err)
		}
	}
	opTime, opN := make([]time.Duration, len(ops)), make([]int, len(ops))
	var elapsed time.Duration
	done := 0
	cs.Calls.Store(0)
	b.ReportAllocs()
	b.ResetTimer()
	b.StopTimer()
	for r := range rounds {
		n := b.N*(r+1)/rounds - done
		if n == 0 {
			continue
		}
		off := done
		b.StartTimer()
		start := time.Now()
		err := spread(n, par, func(g, i int) error { return flow(g, off+i) })
		elapsed += time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		done += n
		// As many raw operations as the flows of the round made round
		// trips.
		m := int(float64(n)*float64(cs.Calls.Load())/float64(done) + 0.5)
		for k, op := range ops {
			start := time.Now()
			if err := spread(m, par, func(int, int) error { return op(ctx) }); err != nil {
				b.Fatal(err)
			}
			opTime[k] += time.Since(start)
			opN[k] += m
		}
	}
	trips := float64(cs.Calls.Load()) / float64(b.N)
	flowsPerSec := float64(b.N) / elapsed.Seconds()
	rate := func(k int) float64 { return float64(opN[k]) / opTime[k].Seconds() }
	rawPerSec := rate(0)
	b.ReportMetric(flowsPerSec, "flows/s")
	b.ReportMetric(trips, "roundtrips/flow")
	b.ReportMetric(rawPerSec, "raw-ops/s")
	b.ReportMetric(flowsPerSec/(rawPerSec/trips), "limit-fraction")
	b.ReportMetric(flowsPerSec/(rawPerSec/idealTrips), "ideal-fraction")
	for k, bl := range baselines {
		r := rate(k + 1)
		b.ReportMetric(r, bl.Name+"-ops/s")
		b.ReportMetric(flowsPerSec/(r/trips), "limit-fraction-"+bl.Name)
		b.ReportMetric(flowsPerSec/(r/idealTrips), "ideal-fraction-"+bl.Name)
	}
}

// clientOf is the client of goroutine g: each its own network, as the
// logins of many users come from many networks, and as the baselines'
// writes each touch their own row. (Logins from one network share its
// counter; on SQL they queue on that row's lock.)
func clientOf(g int) twofactor.Client {
	return twofactor.Client{IP: netip.AddrFrom4([4]byte{198, 18, byte(g >> 8), byte(g)}), UserAgent: "flowtest"}
}

// spread runs fn n times from par goroutines; fn gets the goroutine
// number and the run's index, 0 to n-1.
func spread(n, par int, fn func(g, i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for g := 0; g < par; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				if err := fn(g, int(i-1)); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
