package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/totp"
)

// Load-test users, for the load generator in ./loadtest (make load).
//
// With $TWOFACTOR_LOAD_USERS=N (an environment variable only, left out of
// -h: nobody running the demo needs it) every start adds N accounts to
// the app's user table: load1 … loadN, ids load-1 … load-N, password
// "load", address loadK@example.com, so that their email codes stay in
// the outbox. The odd ones also have an authenticator app: the first
// start on a store enrolls it through the Service, as the demo users'
// factors are (seed.go), and writes every secret to <data>/load-users.json
// (mode 0600) for the load generator. A later start, or a second copy
// sharing the store and -data, finds them enrolled and enrolls nothing;
// start the copies one after the other. The even ones have email codes
// only. Never set it outside a load test: the passwords are known and
// the file holds the secrets.

const (
	maxLoadUsers  = 100_000
	loadPassword  = "load"
	loadUsersFile = "load-users.json"
	loadSeeders   = 8 // enrollments at once at the first start
)

// loadUser is one load-test user as the file lists it.
type loadUser struct {
	ID    string `json:"id"`
	Login string `json:"login"`
	Email string `json:"email"`
	// TOTPSecret is the authenticator app's secret, base32; "" for a user
	// with email codes only.
	TOTPSecret string `json:"totp_secret,omitempty"`
	// TOTPStep is the time step whose code confirmed the app: used, so
	// the next sign-in needs a later one.
	TOTPStep int64 `json:"totp_step,omitempty"`
}

// loadUsers is the file's content.
type loadUsers struct {
	Password   string     `json:"password"`
	TOTPPeriod int        `json:"totp_period"` // seconds
	TOTPDigits int        `json:"totp_digits"`
	Users      []loadUser `json:"users"`
}

// loadAccount is the k-th load-test user (from 1).
func loadAccount(k int) loadUser {
	n := strconv.Itoa(k)
	return loadUser{ID: "load-" + n, Login: "load" + n, Email: "load" + n + "@example.com"}
}

// hasLoadTOTP says whether the k-th load-test user has an authenticator
// app.
func hasLoadTOTP(k int) bool { return k%2 == 1 }

// addLoadUsers adds the n load-test accounts to the user table, with one
// bcrypt hash of their shared password.
func (a *app) addLoadUsers(n int) error {
	if n <= 0 {
		return nil
	}
	h, err := bcrypt.GenerateFromPassword([]byte(loadPassword), demoCost)
	if err != nil {
		return err
	}
	for k := 1; k <= n; k++ {
		u := loadAccount(k)
		acct := &account{ID: u.ID, Login: u.Login, Name: "Load " + strconv.Itoa(k), Email: u.Email,
			Password: loadPassword, About: "load-test user", hash: h}
		if err := a.users.insert(acct); err != nil {
			return err
		}
	}
	return nil
}

// seedLoadUsers enrolls the authenticator app of the odd load-test users
// and writes the file, unless a start before this one did; it returns the
// file's path.
func (a *app) seedLoadUsers(ctx context.Context, n int, dataDir string, out io.Writer) (string, error) {
	path := filepath.Join(dataDir, loadUsersFile)
	last := n
	if !hasLoadTOTP(last) {
		last--
	}
	if last < 1 { // one user, with email only: nothing to enroll
		return path, writeLoadUsers(path, a.loadUsersOf(n, nil))
	}
	acct, _ := a.users.find(loadAccount(last).ID)
	seeded, err := a.hasEnrollment(ctx, acct.user(), twofactor.MethodTOTP)
	if err != nil {
		return "", err
	}
	if seeded {
		var f loadUsers
		b, err := os.ReadFile(path)
		if err == nil {
			err = json.Unmarshal(b, &f)
		}
		if err == nil && len(f.Users) != n {
			err = fmt.Errorf("it lists %d users, not %d", len(f.Users), n)
		}
		if err != nil {
			return "", fmt.Errorf("the store has load-test users but %s does not list them (%v): use a fresh store prefix", path, err)
		}
		fmt.Fprintf(out, "Load-test users: %d, enrolled by an earlier start (%s)\n", n, path)
		return path, nil
	}

	start := time.Now()
	secrets := make(map[int]loadUser)
	var mu sync.Mutex
	ks := make(chan int)
	errc := make(chan error, loadSeeders)
	var wg sync.WaitGroup
	for range loadSeeders {
		wg.Go(func() {
			for k := range ks {
				u, err := a.enrollLoadTOTP(ctx, k)
				if err != nil {
					errc <- err
					for range ks { // let the feeder finish
					}
					return
				}
				mu.Lock()
				secrets[k] = u
				mu.Unlock()
			}
		})
	}
feed:
	for k := 1; k <= n; k++ {
		if !hasLoadTOTP(k) {
			continue
		}
		select {
		case ks <- k:
		case <-ctx.Done():
			break feed
		}
	}
	close(ks)
	wg.Wait()
	close(errc)
	if err := errors.Join(ctx.Err(), <-errc); err != nil {
		return "", fmt.Errorf("seeding the load-test users: %w", err)
	}
	if err := writeLoadUsers(path, a.loadUsersOf(n, secrets)); err != nil {
		return "", err
	}
	fmt.Fprintf(out, "Load-test users: %d, %d with an authenticator app, enrolled in %s (%s)\n",
		n, len(secrets), time.Since(start).Round(time.Millisecond), path)
	return path, nil
}

// enrollLoadTOTP enrolls the k-th load-test user's authenticator app as
// its first factor (as if it had no address on file yet, like the demo
// users: seed.go).
func (a *app) enrollLoadTOTP(ctx context.Context, k int) (loadUser, error) {
	u := loadAccount(k)
	acct, ok := a.users.find(u.ID)
	if !ok {
		return u, fmt.Errorf("no account %s", u.ID)
	}
	user := acct.user()
	user.Email = ""
	en, err := a.svc.BeginEnroll(ctx, user, twofactor.MethodTOTP, twofactor.EnrollRequest{}, "")
	if err != nil {
		return u, fmt.Errorf("%s: %w", u.Login, err)
	}
	secret, err := totp.DecodeSecret(en.Secret)
	if err != nil {
		return u, err
	}
	p := a.totp.Params()
	now := time.Now()
	if _, err := a.svc.ConfirmEnroll(ctx, user, twofactor.MethodTOTP, p.Code(secret, now)); err != nil {
		return u, fmt.Errorf("%s: %w", u.Login, err)
	}
	u.TOTPSecret, u.TOTPStep = en.Secret, p.Step(now)
	return u, nil
}

// loadUsersOf lists the n users with the secrets enrolled.
func (a *app) loadUsersOf(n int, secrets map[int]loadUser) *loadUsers {
	p := a.totp.Params()
	f := &loadUsers{Password: loadPassword, TOTPPeriod: p.Period, TOTPDigits: p.Digits}
	for k := 1; k <= n; k++ {
		u, ok := secrets[k]
		if !ok {
			u = loadAccount(k)
		}
		f.Users = append(f.Users, u)
	}
	return f
}

// writeLoadUsers writes the file whole (a temporary file renamed), readable
// by its owner only (os.CreateTemp makes it 0600): it holds secrets.
func writeLoadUsers(path string, f *loadUsers) error {
	b, err := json.MarshalIndent(f, "", "\t")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), loadUsersFile+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
