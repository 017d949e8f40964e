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

func (s *Server) session(c net.Conn) {
	tp := textproto.NewConn(c)
	isTLS := s.implicit
	authed := false
	var cur Message
	reply := func(lines ...string) bool {
		for _, l := range lines {
			if err := tp.PrintfLine("%s", l); err != nil {
				return false
			}
		}
		return true
	}
	if !reply("220 localhost ESMTP test") {
		return
	}
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "HELO":
			lines := []string{"250-localhost"}
			if !isTLS {
				lines = append(lines, "250-STARTTLS")
			} else {
				lines = append(lines, "250-AUTH PLAIN")
			}
			reply(append(lines, "250 8BITMIME")...)
		case "STARTTLS":
			if isTLS {
				reply("503 already TLS")
				continue
			}
			reply("220 go ahead")
			tc := tls.Server(c, s.tlsConf)
			if err := tc.Handshake(); err != nil {
				return
			}
			c = tc
			tp = textproto.NewConn(tc)
			isTLS = true
			authed = false
			cur = Message{}
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			if !isTLS || !strings.EqualFold(mech, "PLAIN") {
				reply("538 encryption required")
				continue
			}
			if resp == "" {
				reply("334 ")
				if resp, err = tp.ReadLine(); err != nil {
					return
				}
			}
			raw, err := base64.StdEncoding.DecodeString(resp)
			if err == nil && string(raw) == "\x00"+s.User+"\x00"+s.Pass {
				authed = true
				s.mu.Lock()
				s.authOK++
				s.mu.Unlock()
				reply("235 ok")
			} else {
				reply("535 bad credentials")
			}
		case "MAIL":
			if !authed {
				reply("530 auth required")
				continue
			}
			cur = Message{From: addrArg(arg), TLS: isTLS, Auth: authed}
			reply("250 ok")
		case "RCPT":
			cur.To = append(cur.To, addrArg(arg))
			reply("250 ok")
		case "DATA":
			reply("354 go ahead")
			data, err := io.ReadAll(tp.DotReader())
			if err != nil {
				return
			}
			cur.Data = data
			s.mu.Lock()
			s.received = append(s.received, cur)
			s.mu.Unlock()
			reply("250 queued")
		case "RSET":
			cur = Message{}
			reply("250 ok")
		case "NOOP":
			reply("250 ok")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

func addrArg(arg string) string {
	_, a, _ := strings.Cut(arg, ":")
	a = strings.TrimSpace(a)
	if i := strings.IndexByte(a, ' '); i >= 0 {
		a = a[:i]
	}
	return strings.Trim(a, "<>")
}
