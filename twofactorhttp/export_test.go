package twofactorhttp

import (
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
