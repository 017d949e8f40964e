package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/internal/testenv"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
	"github.com/twofactorkit/twofactor/store/sqlstore"
	"github.com/twofactorkit/twofactor/store/sqlstore/sqlite"
)

// samePlace opens a second, independent pool on the database behind db,
// as another app instance would.
func samePlace(t testing.TB, b backend, db *sql.DB) *sql.DB {
	t.Helper()
	switch b.dialect {
	case sqlstore.SQLite:
		var path string
		require.NoError(t, db.QueryRow(`SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&path))
		other, err := sqlite.Open(path)
		require.NoError(t, err)
		t.Cleanup(func() { other.Close() })
		return other
	case sqlstore.Postgres:
		return openServer(t, "pgx", testenv.PostgresDSN(t))
	default:
		return openServer(t, "mysql", testenv.MySQLDSN(t))
	}
}

// TestClosedPoolFailsClosed seeds live records, closes the store's pool and
// checks that every operation returns an error and no success value.
func TestClosedPoolFailsClosed(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			main := b.open(t)
			base := migrated(t, main, b.dialect, nil)
			db := samePlace(t, b, main)
			s, err := sqlstore.New(db, sqlstore.Options{Dialect: b.dialect, TablePrefix: base.TablePrefix()})
			require.NoError(t, err)
			exp := time.Now().Add(time.Hour)
			require.NoError(t, s.PutState(ctx, "st", []byte("v"), exp))
			require.NoError(t, s.PutOwnedState(ctx, "u", "owned", []byte("v"), exp))
			require.NoError(t, s.PutCode(ctx, store.Code{Group: "g", Key: "k", Hash: []byte("h"), ExpiresAt: exp}))
			require.NoError(t, s.PutEnrollment(ctx, store.EnrollmentRecord{UserID: "u", ID: "e", Method: "totp"}))
			require.NoError(t, s.PutDevice(ctx, store.Device{ID: "d", UserID: "u", ExpiresAt: exp}))
			require.NoError(t, db.Close())

			checks := map[string]func() error{
				"PutState":    func() error { return s.PutState(ctx, "st2", []byte("v"), exp) },
				"GetState":    func() error { v, err := s.GetState(ctx, "st"); assert.Nil(t, v); return err },
				"TakeState":   func() error { v, err := s.TakeState(ctx, "st"); assert.Nil(t, v); return err },
				"DeleteState": func() error { return s.DeleteState(ctx, "st") },
				"PutCode":     func() error { return s.PutCode(ctx, store.Code{Group: "g", Key: "k2", Hash: []byte("h")}) },
				"ConsumeCode": func() error {
					st, err := s.ConsumeCode(ctx, "g", "k", []byte("h"))
					assert.NotEqual(t, store.CodeMatched, st)
					return err
				},
				"DeleteCode":   func() error { return s.DeleteCode(ctx, "g", "k") },
				"DeleteGroup":  func() error { return s.DeleteGroup(ctx, "g") },
				"CountGroup":   func() error { n, err := s.CountGroup(ctx, "g"); assert.Zero(t, n); return err },
				"Incr":         func() error { n, _, err := s.Incr(ctx, "c", time.Minute); assert.Zero(t, n); return err },
				"Peek":         func() error { n, _, err := s.Peek(ctx, "c"); assert.Zero(t, n); return err },
				"ResetCounter": func() error { return s.ResetCounter(ctx, "c") },
				"Decr":         func() error { return s.Decr(ctx, "c") },
				"PutOwnedState": func() error {
					return s.PutOwnedState(ctx, "u", "st3", []byte("v"), exp)
				},
				"DeleteOwnedStates": func() error { return s.DeleteOwnedStates(ctx, "u") },
				"MarkUsed": func() error {
					first, err := s.MarkUsed(ctx, "m", exp)
					assert.False(t, first)
					return err
				},
				"Advance": func() error {
					ok, err := s.Advance(ctx, "a", 1, exp)
					assert.False(t, ok)
					return err
				},
				"PutEnrollment": func() error { return s.PutEnrollment(ctx, store.EnrollmentRecord{UserID: "u", ID: "e2"}) },
				"GetEnrollment": func() error { _, err := s.GetEnrollment(ctx, "u", "e"); return err },
				"ListEnrollments": func() error {
					l, err := s.ListEnrollments(ctx, "u")
					assert.Empty(t, l)
					return err
				},
				"DeleteEnrollment": func() error { return s.DeleteEnrollment(ctx, "u", "e") },
				"PutDevice":        func() error { return s.PutDevice(ctx, store.Device{ID: "d2", UserID: "u"}) },
				"GetDevice":        func() error { _, err := s.GetDevice(ctx, "d"); return err },
				"ListDevices": func() error {
					l, err := s.ListDevices(ctx, "u")
					assert.Empty(t, l)
					return err
				},
				"DeleteDevice": func() error { return s.DeleteDevice(ctx, "d") },
				"Sweep":        func() error { _, err := s.Sweep(ctx); return err },
				"Migrate":      func() error { return s.Migrate(ctx) },
			}
			for name, op := range checks {
				err := op()
				require.Error(t, err, name)
				assert.False(t, errors.Is(err, store.ErrNotFound), "%s: a dead pool is a failure, not a missing record", name)
				assert.Contains(t, err.Error(), "sqlstore: ", name)
			}

			// Nothing changed: the records are still there for a live pool.
			v, err := base.GetState(ctx, "st")
			require.NoError(t, err)
			assert.Equal(t, []byte("v"), v)
			_, err = base.GetState(ctx, "owned")
			require.NoError(t, err, "DeleteOwnedStates on a closed pool deleted nothing")
		})
	}
}

// TestCanceledMidFlow cancels the context between the steps of a flow: the
// step after the cancel fails and the code stays unconsumed.
func TestCanceledMidFlow(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s := migrated(t, b.open(t), b.dialect, nil)
			ctx, cancel := context.WithCancel(context.Background())
			require.NoError(t, s.PutCode(ctx, store.Code{Group: "g", Key: "k", Hash: []byte("h"), MaxAttempts: 3}))
			cancel()
			st, err := s.ConsumeCode(ctx, "g", "k", []byte("h"))
			require.ErrorIs(t, err, context.Canceled)
			assert.NotEqual(t, store.CodeMatched, st)
			st, err = s.ConsumeCode(context.Background(), "g", "k", []byte("h"))
			require.NoError(t, err)
			assert.Equal(t, store.CodeMatched, st, "the canceled call consumed nothing")
		})
	}
}

// codeFactor is a minimal factor on store.Codes: Send stores the hash of a
// fixed code under the challenge, Verify consumes it.
type codeFactor struct {
	codes store.Codes
	keys  *keyring.Ring
	code  string
}

const codeDomain = "sqlstore-test-code"

func (f *codeFactor) Method() twofactor.Method { return "testcode" }

func (f *codeFactor) Enrollments(context.Context, twofactor.User) ([]twofactor.Enrollment, error) {
	return []twofactor.Enrollment{{ID: "e1", Method: "testcode"}}, nil
}

func (f *codeFactor) Send(ctx context.Context, ch *twofactor.Challenge, _ twofactor.Client) (twofactor.Sent, error) {
	err := f.codes.PutCode(ctx, store.Code{Group: ch.ID, Key: "code", Hash: f.keys.Hash(codeDomain, []byte(f.code)), ExpiresAt: ch.ExpiresAt, MaxAttempts: 5})
	return twofactor.Sent{ExpiresAt: ch.ExpiresAt}, err
}

func (f *codeFactor) Verify(ctx context.Context, ch *twofactor.Challenge, answer string) (twofactor.Verified, error) {
	st, err := f.codes.ConsumeCode(ctx, ch.ID, "code", f.keys.Hash(codeDomain, []byte(answer)))
	if err != nil {
		return twofactor.Verified{}, err
	}
	switch st {
	case store.CodeMatched:
		return twofactor.Verified{EnrollmentID: "e1"}, nil
	case store.CodeExpired:
		return twofactor.Verified{}, twofactor.ErrCodeExpired
	}
	return twofactor.Verified{}, twofactor.ErrInvalidCode
}

// TestFlowFailsClosed runs a login challenge on the SQL store and closes
// the pool before Verify: Verify must return an error and no Result. The
// same flow on a live pool succeeds, so the check means something.
func TestFlowFailsClosed(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			main := b.open(t)
			base := migrated(t, main, b.dialect, nil)
			key, err := keyring.GenerateKey("k1")
			require.NoError(t, err)
			keys, err := keyring.New(key)
			require.NoError(t, err)

			service := func(db *sql.DB) *twofactor.Service {
				s, err := sqlstore.New(db, sqlstore.Options{Dialect: b.dialect, TablePrefix: base.TablePrefix()})
				require.NoError(t, err)
				svc, err := twofactor.New(twofactor.Config{Store: s, Keys: keys, Factors: []twofactor.FactorConfig{twofactor.FactorFunc(func(twofactor.Env) (twofactor.Factor, error) {
					return &codeFactor{codes: s, keys: keys, code: "424242"}, nil
				})}})
				require.NoError(t, err)
				return svc
			}
			run := func(svc *twofactor.Service, kill func()) (*twofactor.Result, error) {
				begun, err := svc.Begin(ctx, twofactor.User{ID: "alice"}, twofactor.Client{})
				require.NoError(t, err)
				require.Equal(t, twofactor.StatusChallenge, begun.Status)
				_, err = svc.Send(ctx, begun.Challenge.ID, "testcode", twofactor.Client{})
				require.NoError(t, err)
				kill()
				return svc.Verify(ctx, twofactor.Answer{ChallengeID: begun.Challenge.ID, Method: "testcode", Code: "424242"})
			}

			res, err := run(service(main), func() {})
			require.NoError(t, err, "control: the flow works on a live pool")
			require.NotNil(t, res)
			assert.Equal(t, "alice", res.User.ID)

			db := samePlace(t, b, main)
			res, err = run(service(db), func() { require.NoError(t, db.Close()) })
			require.Error(t, err, "Verify on a closed pool")
			assert.Nil(t, res, "no Result when the store fails")
			assert.False(t, errors.Is(err, twofactor.ErrInvalidCode), "a store failure is not reported as a wrong code")
		})
	}
}
