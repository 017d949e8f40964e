package twofactorhttp

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/twofactorkit/twofactor"
)

// SealPendingForTest seals a pending cookie value as the Handler would, so
// tests can present one the layer never issued (another user's id for a
// real challenge).
func SealPendingForTest(h *Handler, challengeID, userID string, purpose twofactor.Purpose, ret string, expires time.Time) string {
	v, err := h.sealPending(&pending{ChallengeID: challengeID, UserID: userID, Purpose: purpose, Return: ret, Expires: expires.Unix()})
	if err != nil {
		panic(err)
	}
	return v
}

// CleanReturn exposes the return-path check.
var CleanReturn = cleanReturn

// PendingCookie is what a pending cookie holds, as OpenPendingForTest
// reads it.
type PendingCookie struct {
	ChallengeID, UserID string
	Purpose             twofactor.Purpose
	Return              string
	Expires             int64
	SentMethod          twofactor.Method
	SentDestination     string
	ResendAt            int64
}

// SealPendingSentForTest is SealPendingForTest with a code sent.
func SealPendingSentForTest(h *Handler, p PendingCookie) string {
	v, err := h.sealPending(&pending{ChallengeID: p.ChallengeID, UserID: p.UserID, Purpose: p.Purpose, Return: p.Return, Expires: p.Expires,
		Sent: &sentCode{Method: p.SentMethod, Destination: p.SentDestination, ResendAt: p.ResendAt}})
	if err != nil {
		panic(err)
	}
	return v
}

// SealPendingFieldsForTest seals the given fields as a pending cookie of
// challengeID, as the layer would seal well-formed ones: a value only a
// holder of the keys can make, for checking what opening refuses.
func SealPendingFieldsForTest(h *Handler, challengeID string, fields ...string) string {
	s, err := h.env.Keys.Seal([]byte(strings.Join(fields, "\x00")), h.pendingAD(challengeID))
	if err != nil {
		panic(err)
	}
	return challengeID + "~" + s
}

// OpenPendingForTest opens a pending cookie value at now, as every
// request does.
func OpenPendingForTest(h *Handler, value string, now time.Time) (PendingCookie, bool) {
	p, err := h.openPending(value, now)
	if err != nil {
		return PendingCookie{}, false
	}
	out := PendingCookie{ChallengeID: p.ChallengeID, UserID: p.UserID, Purpose: p.Purpose, Return: p.Return, Expires: p.Expires}
	if p.Sent != nil {
		out.SentMethod, out.SentDestination, out.ResendAt = p.Sent.Method, p.Sent.Destination, p.Sent.ResendAt
	}
	return out, true
}

// SealStepUpForTest returns a step-up cookie value holding proof for
// userID, as the layer sets it.
func SealStepUpForTest(h *Handler, userID, proof string) string {
	v, err := h.env.Keys.Seal([]byte(proof), h.stepUpAD(userID))
	if err != nil {
		panic(err)
	}
	return v
}

// StepUpProofForTest returns the proof the layer reads for userID from
// the request's step-up cookies, or "".
func StepUpProofForTest(h *Handler, r *http.Request, userID string) string {
	return h.stepUpProof(r, userID)
}

// MaxCookie is the bound on the layer's cookie values.
const MaxCookie = maxCookie

// SealEnrollingForTest returns a set-up cookie value for userID's set-up
// of method m, as the layer seals it, with a label of any length (the
// layer refuses one over its bound before it is sealed) and the given
// expiry.
func SealEnrollingForTest(h *Handler, userID string, m twofactor.Method, label string, exp time.Time) string {
	b, err := json.Marshal(&enrolling{Method: m, Expires: exp.Unix(), Label: label})
	if err != nil {
		panic(err)
	}
	v, err := h.env.Keys.Seal(b, h.enrollAD(h.enrollName, userID))
	if err != nil {
		panic(err)
	}
	return v
}
