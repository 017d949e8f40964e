package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/keyring"
	"github.com/twofactorkit/twofactor/store"
)

// keysEnv holds the server keys when --keys is not given; keysEnv+"_FILE"
// names a file holding them.
const keysEnv = "TWOFACTOR_KEYS"

// ring is the server keyring a command uses, with the ids of its keys.
type ring struct {
	*keyring.Ring
	ids    []string // current first
	source string   // where the keys came from, for messages
}

func (r *ring) has(id string) bool { return slices.Contains(r.ids, id) }

// loadKeys reads the keys from --keys FILE, else $TWOFACTOR_KEYS, else the
// file $TWOFACTOR_KEYS_FILE names, in the form keyring.Parse
// reads. Errors never quote a key.
func loadKeys(e *env, file string) (*ring, error) {
	var text, source string
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--keys: %w", err)
		}
		text, source = string(b), "--keys "+file
	case e.getenv(keysEnv) != "":
		text, source = e.getenv(keysEnv), "$"+keysEnv
	case e.getenv(keysEnv+"_FILE") != "":
		path := e.getenv(keysEnv + "_FILE")
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("$%s_FILE: %w", keysEnv, err)
		}
		text, source = string(b), path
	default:
		return nil, fmt.Errorf("no keys: pass the app's server keys with --keys FILE or $%s (twofactor keygen makes one)", keysEnv)
	}
	return parseRing(text, source)
}

// parseRing reads keys in the form keyring.Parse reads, from
// source (for messages).
func parseRing(text, source string) (*ring, error) {
	kr, err := keyring.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("keys in %s: %s", source, strings.TrimPrefix(err.Error(), keyring.ErrInvalidKey.Error()+": "))
	}
	// The ids, read the way keyring.Parse reads the keys.
	var ids []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, f := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			k, err := keyring.ParseKey(f)
			if err != nil {
				return nil, fmt.Errorf("keys in %s: %w", source, err)
			}
			ids = append(ids, k.ID)
		}
	}
	if len(ids) == 0 || ids[0] != kr.CurrentKeyID() {
		return nil, fmt.Errorf("keys in %s: cannot tell the key ids apart", source)
	}
	return &ring{Ring: kr, ids: ids, source: source}, nil
}

// sealedRE finds values sealed with keyring.Ring.Seal in a stored
// record: "v1:<key id>:<base64url>".
var sealedRE = regexp.MustCompile(`(?:^|[^A-Za-z0-9._-])v1:([A-Za-z0-9._-]{1,32}):[A-Za-z0-9_-]{16,}`)

// sealedUnder returns the ids of the keys the record's sealed values name.
func sealedUnder(rec store.EnrollmentRecord) []string {
	var ids []string
	for _, m := range sealedRE.FindAllSubmatch(rec.Data, -1) {
		if id := string(m[1]); !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// errMissingKey reports stored secrets sealed under a key the ring lacks.
var errMissingKey = errors.New("missing key")

// checkKeys returns the ids of the keys the user's stored secrets (TOTP
// secrets, phone numbers, email addresses) are sealed under, and an error
// naming the first one the ring lacks: with such a ring a command would
// read or write the user's data under the wrong keys, so it stops before
// it changes anything.
func checkKeys(r *ring, userID string, recs []store.EnrollmentRecord) ([]string, error) {
	var ids []string
	for _, rec := range recs {
		for _, id := range sealedUnder(rec) {
			if !r.has(id) {
				return nil, usageErr(fmt.Errorf("%w: the keys from %s lack key %q, under which the %s of user %q is sealed: use the app's keys",
					errMissingKey, r.source, id, secretName(rec.Method), userID))
			}
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// userRecords lists the user's enrollment records and checks the ring
// against them (see checkKeys).
func userRecords(ctx context.Context, st store.Enrollments, r *ring, userID string) ([]store.EnrollmentRecord, []string, error) {
	recs, err := st.ListEnrollments(ctx, userID)
	if err != nil {
		return nil, nil, fmt.Errorf("listing enrollments of %q: %w", userID, err)
	}
	ids, err := checkKeys(r, userID, recs)
	if err != nil {
		return nil, nil, err
	}
	return recs, ids, nil
}

// secretName says what a factor's sealed value is.
func secretName(method string) string {
	switch twofactor.Method(method) {
	case twofactor.MethodTOTP:
		return "TOTP secret"
	case twofactor.MethodSMS:
		return "phone number"
	case twofactor.MethodEmail:
		return "email address"
	}
	return method + " data"
}
