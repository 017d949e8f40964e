package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/internal/flowtest"
	"github.com/twofactorkit/twofactor/internal/testenv"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store/sqlstore"
	"github.com/twofactorkit/twofactor/store/storetest"
)

// countingConnector counts the requests its connections send: each
// statement run with Exec or Query (with interpolateParams, one request
// however many statements its text holds), each BEGIN, COMMIT, ROLLBACK
// and prepare.
type countingConnector struct {
	driver.Connector
	n *atomic.Int64
}

// mysqlConn is what go-sql-driver/mysql's connections implement, which
// countingConn must pass on for database/sql to use them alike.
type mysqlConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}

func (c countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{mysqlConn: conn.(mysqlConn), n: c.n}, nil
}

type countingConn struct {
	mysqlConn
	n *atomic.Int64
}

func (c *countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.n.Add(1)
	return c.mysqlConn.ExecContext(ctx, q, args)
}

func (c *countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.n.Add(1)
	return c.mysqlConn.QueryContext(ctx, q, args)
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.n.Add(1)
	tx, err := c.mysqlConn.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return countingTx{tx, c.n}, nil
}

// countingTx counts its COMMIT or ROLLBACK, a request each.
type countingTx struct {
	driver.Tx
	n *atomic.Int64
}

func (t countingTx) Commit() error {
	t.n.Add(1)
	return t.Tx.Commit()
}

func (t countingTx) Rollback() error {
	t.n.Add(1)
	return t.Tx.Rollback()
}

func (c *countingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	c.n.Add(1)
	return c.mysqlConn.PrepareContext(ctx, q)
}

// TestMySQLLoginRequests: on a MySQL pool that takes several statements
// in one request, a login's steps cost these requests to the server, each
// a network round trip and a wake-up of a server thread: Begin one (its
// reads), an email code's Send and Verify two each (the reads and the
// counters' locks, with the code's locking read after them; then the
// writes and the COMMIT), a wrong code two, and a TOTP Verify five (the
// count's two; then one transaction: the ledger's mark, on whose outcome
// the end waits, the end's locks, and the writes with the COMMIT), where
// it was five on MariaDB and six on MySQL, whose upserts return no rows,
// with the mark a transaction of its own. A plain read sent alone, or a
// code's read waiting for the count's reply, adds one.
func TestMySQLLoginRequests(t *testing.T) {
	for _, mode := range []struct {
		name     string
		readBack bool
		totp     int64
	}{
		{"upserts that return rows", false, 5},
		{"rows read back", true, 5},
	} {
		t.Run(mode.name, func(t *testing.T) { loginRequests(t, mode.readBack, mode.totp) })
	}
}

// loginRequests counts a login's requests on MariaDB's path, or with
// readBack on MySQL's, and requires totpVerify for a TOTP Verify.
func loginRequests(t *testing.T, readBack bool, totpVerify int64) {
	ctx := context.Background()
	cfg, err := mysql.ParseDSN(testenv.MySQLDSN(t))
	require.NoError(t, err)
	base, err := mysql.NewConnector(cfg)
	require.NoError(t, err)
	var n atomic.Int64
	db := sql.OpenDB(countingConnector{Connector: base, n: &n})
	t.Cleanup(func() { db.Close() })
	if err := db.PingContext(ctx); err != nil {
		testenv.Missing(t, "mysql database", err.Error())
	}
	clock := storetest.NewClock(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	s := migrated(t, db, sqlstore.MySQL, clock.Now)
	require.True(t, s.Pipelines(ctx))
	if readBack {
		s.UseReadBack()
	} else if !s.Returning(ctx) {
		t.Skip("the server is MySQL, whose upserts return no rows: the other subtest is its")
	}
	require.Equal(t, !readBack, s.Returning(ctx))
	key, err := keyring.GenerateKey("requests")
	require.NoError(t, err)
	keys, err := keyring.New(key)
	require.NoError(t, err)
	in := flowtest.NewInstance(t, s, flowtest.Options{Keys: keys, Now: clock.Now})
	client := twofactor.Client{IP: netip.MustParseAddr("198.51.100.7"), UserAgent: "requests"}
	user := twofactor.User{ID: "req-user", Email: "req-user@example.com"}

	// Warm: the store's probes of the server, the address's record.
	begun, err := in.Service.Begin(ctx, user, client)
	require.NoError(t, err)
	_, err = in.Service.Send(ctx, begun.Challenge.ID, twofactor.MethodEmail, client)
	require.NoError(t, err)

	requests := func(step string, want int64, fn func() error) {
		t.Helper()
		n.Store(0)
		require.NoError(t, fn(), step)
		assert.Equal(t, want, n.Load(), "%s: requests", step)
	}
	answer := func(id string, m twofactor.Method, code string) twofactor.Answer {
		return twofactor.Answer{ChallengeID: id, Method: m, Code: code, UserID: user.ID, Client: client}
	}
	var id string
	requests("Begin", 1, func() error {
		b, err := in.Service.Begin(ctx, user, client)
		id = b.Challenge.ID
		return err
	})
	requests("Send", 2, func() error {
		_, err := in.Service.Send(ctx, id, twofactor.MethodEmail, client)
		return err
	})
	code, err := in.Mail.Code(user.Email)
	require.NoError(t, err)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	requests("Verify, a wrong code", 2, func() error {
		_, err := in.Service.Verify(ctx, answer(id, twofactor.MethodEmail, wrong))
		if err == nil {
			t.Error("a wrong code was accepted")
		}
		return nil
	})
	requests("Verify", 2, func() error {
		res, err := in.Service.Verify(ctx, answer(id, twofactor.MethodEmail, code))
		if err == nil && res.Proof == "" {
			t.Error("no proof")
		}
		return err
	})

	// A TOTP login, with backup codes enrolled too.
	user = twofactor.User{ID: "req-totp", Email: "req-totp@example.com"}
	secret := flowtest.EnrollTOTP(t, in, in, clock, user)
	_, err = in.Backup.BeginEnroll(ctx, user, twofactor.EnrollRequest{})
	require.NoError(t, err)
	requests("Begin, TOTP and backup codes", 1, func() error {
		b, err := in.Service.Begin(ctx, user, client)
		id = b.Challenge.ID
		return err
	})
	requests("Verify, TOTP", totpVerify, func() error {
		_, err := in.Service.Verify(ctx, answer(id, twofactor.MethodTOTP, in.TOTP.Params().Code(secret, clock.Now())))
		return err
	})
}
