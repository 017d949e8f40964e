// Package smtptest is a minimal SMTP server for tests that send real mail
// over a loopback connection: EHLO, STARTTLS, AUTH PLAIN, MAIL, RCPT, DATA,
// RSET, NOOP, QUIT, with a fresh self-signed certificate.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"math/big"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Server is a running test SMTP server. It refuses AUTH before TLS, and
// accepts User and Pass.
type Server struct {
	Addr     string
	Host     string
	Port     int
	RootCAs  *x509.CertPool
	User     string
	Pass     string
	implicit bool
	tlsConf  *tls.Config
	ln       net.Listener

	mu       sync.Mutex
	received []Message
	authOK   int
	wg       sync.WaitGroup
}

// Message is one message the server accepted.
type Message struct {
	From string
	To   []string
	Data []byte
	TLS  bool
	Auth bool
}

// New starts a server on 127.0.0.1 with a fresh self-signed
// certificate. implicit makes it speak TLS from the first byte.
func New(t *testing.T, implicit bool) *Server {
	t.Helper()
	cert, pool := selfSigned(t)
	s := &Server{User: "mailer", Pass: "s3cret", implicit: implicit, RootCAs: pool,
		tlsConf: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if implicit {
		ln = tls.NewListener(ln, s.tlsConf)
	}
	s.ln = ln
	s.Addr = ln.Addr().String()
	s.Host = "127.0.0.1"
	s.Port = ln.Addr().(*net.TCPAddr).Port
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func (s *Server) Received() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.received...)
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			s.session(c)
		}()
	}
}

// session speaks SMTP on c until the client quits, the connection fails
// or a command cannot go on (a failed TLS handshake, an unreadable AUTH
// response or message). Each command is handled by a method of conn.
func (s *Server) session(c net.Conn) {
	sc := &conn{srv: s, c: c, tp: textproto.NewConn(c), isTLS: s.implicit}
	if !sc.reply("220 localhost ESMTP test") {
		return
	}
	for {
		line, err := sc.tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		if !sc.command(strings.ToUpper(verb), arg) {
			return
		}
	}
}

// conn is the state of one SMTP session: the connection, TLS once
// STARTTLS has switched to it, whether the client has authenticated, and
// the message being received.
type conn struct {
	srv    *Server
	c      net.Conn
	tp     *textproto.Conn
	isTLS  bool
	authed bool
	cur    Message
}

// reply writes lines to the client, and reports whether it could.
func (sc *conn) reply(lines ...string) bool {
	for _, l := range lines {
		if err := sc.tp.PrintfLine("%s", l); err != nil {
			return false
		}
	}
	return true
}

// command runs one command, verb in upper case, and reports whether the
// session goes on. A failed reply does not end it: the next read does.
func (sc *conn) command(verb, arg string) bool {
	switch verb {
	case "EHLO", "HELO":
		sc.hello()
	case "STARTTLS":
		return sc.startTLS()
	case "AUTH":
		return sc.auth(arg)
	case "MAIL":
		sc.mail(arg)
	case "RCPT":
		sc.cur.To = append(sc.cur.To, addrArg(arg))
		sc.reply("250 ok")
	case "DATA":
		return sc.data()
	case "RSET":
		sc.cur = Message{}
		sc.reply("250 ok")
	case "NOOP":
		sc.reply("250 ok")
	case "QUIT":
		sc.reply("221 bye")
		return false
	default:
		sc.reply("502 not implemented")
	}
	return true
}

// hello answers EHLO and HELO with the extensions of the session's state:
// STARTTLS before TLS, AUTH PLAIN after it.
func (sc *conn) hello() {
	lines := []string{"250-localhost"}
	if !sc.isTLS {
		lines = append(lines, "250-STARTTLS")
	} else {
		lines = append(lines, "250-AUTH PLAIN")
	}
	sc.reply(append(lines, "250 8BITMIME")...)
}

// startTLS switches the session to TLS and, as RFC 3207 asks, forgets
// what was said before it: authentication and the message in progress. It
// reports false when the handshake fails.
func (sc *conn) startTLS() bool {
	if sc.isTLS {
		sc.reply("503 already TLS")
		return true
	}
	sc.reply("220 go ahead")
	tc := tls.Server(sc.c, sc.srv.tlsConf)
	if err := tc.Handshake(); err != nil {
		return false
	}
	sc.c = tc
	sc.tp = textproto.NewConn(tc)
	sc.isTLS = true
	sc.authed = false
	sc.cur = Message{}
	return true
}

// auth handles AUTH PLAIN, over TLS only, with the response on the
// command line or after a 334 prompt, and counts each success. It reports
// false when the prompted response cannot be read.
func (sc *conn) auth(arg string) bool {
	mech, resp, _ := strings.Cut(arg, " ")
	if !sc.isTLS || !strings.EqualFold(mech, "PLAIN") {
		sc.reply("538 encryption required")
		return true
	}
	if resp == "" {
		sc.reply("334 ")
		var err error
		if resp, err = sc.tp.ReadLine(); err != nil {
			return false
		}
	}
	raw, err := base64.StdEncoding.DecodeString(resp)
	if err == nil && string(raw) == "\x00"+sc.srv.User+"\x00"+sc.srv.Pass {
		sc.authed = true
		sc.srv.mu.Lock()
		sc.srv.authOK++
		sc.srv.mu.Unlock()
		sc.reply("235 ok")
	} else {
		sc.reply("535 bad credentials")
	}
	return true
}

// mail starts a message from the sender in arg, once authenticated.
func (sc *conn) mail(arg string) {
	if !sc.authed {
		sc.reply("530 auth required")
		return
	}
	sc.cur = Message{From: addrArg(arg), TLS: sc.isTLS, Auth: sc.authed}
	sc.reply("250 ok")
}

// data reads the message's content up to the lone dot and records the
// message as received. It reports false when the content cannot be read.
func (sc *conn) data() bool {
	sc.reply("354 go ahead")
	data, err := io.ReadAll(sc.tp.DotReader())
	if err != nil {
		return false
	}
	sc.cur.Data = data
	sc.srv.mu.Lock()
	sc.srv.received = append(sc.srv.received, sc.cur)
	sc.srv.mu.Unlock()
	sc.reply("250 queued")
	return true
}

func addrArg(arg string) string {
	_, a, _ := strings.Cut(arg, ":")
	a = strings.TrimSpace(a)
	if i := strings.IndexByte(a, ' '); i >= 0 {
		a = a[:i]
	}
	return strings.Trim(a, "<>")
}
