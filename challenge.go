package twofactor

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor/store"
)

// Store keys of the Service. Every key is a short prefix and a fixed-length
// id or a user id of at most MaxUserIDLen bytes, so each fits
// store.MaxKeyLen.
const (
	keyChallenge    = "tf:ch:"   // state: a challenge, filed under its user
	keyAttempts     = "tf:att:"  // counter: answers to one challenge
	keyUserFail     = "tf:fail:" // counter: a user's wrong answers in a row
	keyIP           = "tf:ip:"   // counter: answers from one client network, keyed by its keyed hash
	keyProofsBefore = "tf:pnb:"  // state: proofs issued before this time are void
)

// challengeIDBytes is the entropy of a challenge id: 256 bits.
const challengeIDBytes = 32

// challengeIDLen is the length of a challenge id in unpadded base64url.
const challengeIDLen = 43

// ParseChallengeID checks that id has the form of a challenge id (43
// characters of unpadded base64url) without any store access. It returns an
// error matching ErrInvalidInput otherwise.
func ParseChallengeID(id string) error {
	if len(id) != challengeIDLen {
		return invalidInput("challenge id must be %d characters", challengeIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return invalidInput("challenge id has a character outside base64url")
		}
	}
	// The last character carries 2 bits of padding that must be zero, so
	// each id has exactly one spelling.
	if strings.IndexByte("AEIMQUYcgkosw048", id[challengeIDLen-1]) < 0 {
		return invalidInput("challenge id is not canonical base64url")
	}
	return nil
}

// A challenge is kept in the store as one record: a marker of its form
// (challengeMagic), then in the clear what the flow needs (its id, the user id, the purpose, the
// methods offered, when it was made and expires, whether it is spent),
// then the sealed rest. Only those fields are in the clear: the user's
// name and address and the client IP are sealed with the keyring, with
// everything before them (the marker included, which keeps the additional
// data apart from any other the keyring seals with) as the additional
// data, so a copy of the store
// without the keys holds no personal data beyond the user id, and a
// record altered in the store does not open. Strings are prefixed with
// their length (uvarint), times are Unix nanoseconds (varint).
//
// Spent is set when the challenge used up its attempts: it can no longer
// be answered or sent codes, but is kept until it expires so that an
// answer already being checked can still complete it.
//
// Version 3 adds, after the spent byte, how the first step of sign-in was
// done (Client.FirstFactor), for the Result's assurance. Version 2
// records, written before, are still read: their first step was a
// password.
const (
	challengeMagic   = "tfch\x03"
	challengeMagicV2 = "tfch\x02"
)

// save stores ch, filed under its user so that PasswordChanged and
// AdminReset can end it.
func (s *Service) save(ctx context.Context, ch *Challenge, spent bool) error {
	u := ch.User
	buf := make([]byte, 0, 320)
	buf = append(buf, challengeMagic...)
	buf = appendString(buf, ch.ID)
	buf = appendString(buf, u.ID)
	buf = appendString(buf, string(ch.Purpose))
	buf = binary.AppendUvarint(buf, uint64(len(ch.Methods)))
	for _, m := range ch.Methods {
		buf = appendString(buf, string(m))
	}
	buf = binary.AppendVarint(buf, ch.CreatedAt.UnixNano())
	buf = binary.AppendVarint(buf, ch.ExpiresAt.UnixNano())
	if spent {
		buf = append(buf, 1)
	} else {
		buf = append(buf, 0)
	}
	buf = appendString(buf, string(ch.FirstFactor))
	head := len(buf)
	for _, f := range [...]string{u.Name, u.DisplayName, u.Email, ch.IP} {
		buf = appendString(buf, f)
	}
	// The user's language follows, only when there is one: a record
	// without it stays readable by a release that predates it.
	if u.Language != "" {
		buf = appendString(buf, u.Language)
	}
	sealed, err := s.keys.Seal(buf[head:], buf[:head])
	if err != nil {
		return err
	}
	blob := append(buf[:head], sealed...)
	return s.store.PutOwnedState(ctx, u.ID, keyChallenge+ch.ID, blob, ch.ExpiresAt)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// fields reads a record's length-prefixed strings and varints in order;
// the first malformed one sets bad, and every later read returns zero.
type fields struct {
	s   string
	bad bool
}

func (f *fields) uvarint() uint64 {
	v, n := binary.Uvarint([]byte(f.s[:min(len(f.s), binary.MaxVarintLen64)]))
	if n <= 0 || f.bad {
		f.bad = true
		return 0
	}
	f.s = f.s[n:]
	return v
}

// varint reads what binary.AppendVarint wrote: a zig-zag encoded uvarint.
func (f *fields) varint() int64 {
	u := f.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

func (f *fields) str() string {
	n := f.uvarint()
	if f.bad || n > uint64(len(f.s)) {
		f.bad = true
		return ""
	}
	v := f.s[:n]
	f.s = f.s[n:]
	return v
}

func (f *fields) byte() byte {
	if f.bad || len(f.s) == 0 {
		f.bad = true
		return 0
	}
	v := f.s[0]
	f.s = f.s[1:]
	return v
}

var errMalformedChallenge = errors.New("twofactor: decoding challenge: malformed record")

// maxMethods bounds the methods a stored challenge may list.
const maxMethods = 64

// decodeChallenge parses and opens a stored challenge. A record that does
// not parse or open is an error, never a usable challenge.
func (s *Service) decodeChallenge(blob []byte) (*Challenge, bool, error) {
	if len(blob) > 0 && blob[0] == '{' {
		return s.decodeChallengeV1(blob)
	}
	bad := errMalformedChallenge
	str := string(blob)
	rest, v3 := strings.CutPrefix(str, challengeMagic)
	if !v3 {
		var v2 bool
		if rest, v2 = strings.CutPrefix(str, challengeMagicV2); !v2 {
			return nil, false, bad
		}
	}
	f := fields{s: rest}
	ch := &Challenge{ID: f.str(), User: User{ID: f.str()}, Purpose: Purpose(f.str())}
	n := f.uvarint()
	if f.bad || n > maxMethods {
		return nil, false, bad
	}
	ch.Methods = make([]Method, n)
	for i := range ch.Methods {
		ch.Methods[i] = Method(f.str())
	}
	ch.CreatedAt, ch.ExpiresAt = time.Unix(0, f.varint()), time.Unix(0, f.varint())
	spent := f.byte()
	if v3 {
		ch.FirstFactor = FirstFactor(f.str())
	}
	if f.bad || spent > 1 || !ch.FirstFactor.valid() {
		return nil, false, bad
	}
	pt, err := s.keys.Open(f.s, blob[:len(blob)-len(f.s)])
	if err != nil {
		return nil, false, fmt.Errorf("twofactor: opening challenge: %w", err)
	}
	p := fields{s: string(pt)}
	ch.User.Name, ch.User.DisplayName, ch.User.Email, ch.IP = p.str(), p.str(), p.str(), p.str()
	if p.s != "" {
		ch.User.Language = p.str()
	}
	if p.bad || p.s != "" {
		return nil, false, bad
	}
	return ch, spent == 1, nil
}

// challengeV1 is a challenge as earlier versions kept it, in JSON: still
// read, so that a challenge begun before an upgrade can be finished.
type challengeV1 struct {
	ID        string    `json:"id"`
	UserID    string    `json:"uid"`
	Purpose   Purpose   `json:"purpose"`
	Methods   []Method  `json:"methods"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Sealed    string    `json:"sealed"`
	Spent     bool      `json:"spent,omitempty"`
}

// challengeV1Private is the sealed part of a version 1 record.
type challengeV1Private struct {
	Name        string `json:"n,omitempty"`
	DisplayName string `json:"d,omitempty"`
	Email       string `json:"e,omitempty"`
	IP          string `json:"ip,omitempty"`
}

// challengeV1AD is the additional data of a version 1 record's sealed
// part: every field kept in the clear.
func challengeV1AD(sc *challengeV1) []byte {
	ad := make([]byte, 0, 160)
	ad = append(ad, "twofactor challenge v1"...)
	for _, f := range []string{sc.ID, sc.UserID, string(sc.Purpose), joinMethods(sc.Methods),
		strconv.FormatInt(sc.CreatedAt.UnixNano(), 10), strconv.FormatInt(sc.ExpiresAt.UnixNano(), 10), strconv.FormatBool(sc.Spent)} {
		ad = append(ad, 0)
		ad = append(ad, f...)
	}
	return ad
}

func (s *Service) decodeChallengeV1(blob []byte) (*Challenge, bool, error) {
	var sc challengeV1
	if err := json.Unmarshal(blob, &sc); err != nil {
		return nil, false, fmt.Errorf("twofactor: decoding challenge: %w", err)
	}
	pt, err := s.keys.Open(sc.Sealed, challengeV1AD(&sc))
	if err != nil {
		return nil, false, fmt.Errorf("twofactor: opening challenge: %w", err)
	}
	var priv challengeV1Private
	if err := json.Unmarshal(pt, &priv); err != nil {
		return nil, false, fmt.Errorf("twofactor: decoding challenge: %w", err)
	}
	return &Challenge{
		ID:        sc.ID,
		User:      User{ID: sc.UserID, Name: priv.Name, DisplayName: priv.DisplayName, Email: priv.Email},
		Purpose:   sc.Purpose,
		Methods:   sc.Methods,
		CreatedAt: sc.CreatedAt,
		ExpiresAt: sc.ExpiresAt,
		IP:        priv.IP,
	}, sc.Spent, nil
}

// Challenge returns a pending challenge, for showing its methods again.
func (s *Service) Challenge(ctx context.Context, challengeID string) (*Challenge, error) {
	return s.load(ctx, challengeID)
}

// load reads a live challenge. A malformed id costs no store access; a
// spent one answers ErrTooManyAttempts.
func (s *Service) load(ctx context.Context, challengeID string) (*Challenge, error) {
	ch, spent, err := s.read(ctx, challengeID)
	if err == nil && spent {
		return nil, ErrTooManyAttempts
	}
	return ch, err
}

// read reads a challenge and whether it is spent.
func (s *Service) read(ctx context.Context, challengeID string) (*Challenge, bool, error) {
	if err := ParseChallengeID(challengeID); err != nil {
		return nil, false, ErrChallengeNotFound
	}
	blob, err := s.store.GetState(ctx, keyChallenge+challengeID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, ErrChallengeNotFound
	}
	if err != nil {
		return nil, false, fmt.Errorf("twofactor: loading challenge: %w", err)
	}
	ch, spent, err := s.decodeChallenge(blob)
	if err != nil {
		return nil, false, err
	}
	if ch.ID != challengeID || !s.now().Before(ch.ExpiresAt) {
		return nil, false, ErrChallengeNotFound
	}
	return ch, spent, nil
}
