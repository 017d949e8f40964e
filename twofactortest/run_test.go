package twofactortest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The test host as the README builds it passes every check, through Run
// itself.
func TestCorrectHostPasses(t *testing.T) {
	Run(t, newTestHost(t, noFlaw).describe())
}

// Each planted mistake fails its check, and no other.
func TestEachMistakeIsCaught(t *testing.T) {
	for _, c := range []struct {
		name  string
		flaw  flaw
		check string
	}{
		{"session before the second step", sessionBeforeSecondStep, CheckPasswordAlone},
		{"email users skip the second step", emailUsersSkipSecondStep, CheckPasswordAlone},
		{"a callback route signs in", callbackRoute, CheckSkipSecondStep},
		{"SignIn signs in the user of the password step", signInRemembersLogin, CheckSkipSecondStep},
		{"a step-up route without the middleware", stepUpRouteUnguarded, CheckStepUp},
		{"an administrator guard that lets anyone in", guardLetsAnyoneIn, CheckStepUp},
		{"no cross-origin protection", noCrossOriginProtection, CheckCrossOrigin},
		{"X-Forwarded-For believed from anyone", forwardedForFromAnyone, CheckForwardedFor},
		{"a middleware takes the address from X-Forwarded-For", realIPMiddleware, CheckForwardedFor},
		{"a logout that keeps the step-up", logoutKeepsStepUp, CheckLogout},
		{"a password change without PasswordChanged", passwordChangeKeepsState, CheckPasswordChange},
		{"a store that keeps used codes", codesReusable, CheckUsedCodes},
		{"a store without a replay ledger", totpReplayable, CheckUsedCodes},
		{"a store whose counters are not atomic", racyCounters, CheckLockout},
		{"a page that echoes a code", echoesCode, CheckNoSecrets},
	} {
		t.Run(c.name, func(t *testing.T) {
			log := runFake(t, newTestHost(t, c.flaw).describe())
			if got := log.failed(); !slices.Equal(got, []string{c.check}) {
				t.Fatalf("failed checks: %v, want [%s]:\n%s", got, c.check, log)
			}
			for _, m := range log.failures[c.check] {
				t.Logf("%s: %s", c.check, m)
			}
		})
	}
}

// The kit, a library package, compiles no database driver in.
func TestNoDriverImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, d := range []string{"modernc.org/sqlite", "github.com/jackc/pgx", "github.com/go-sql-driver/mysql", "github.com/redis/go-redis", "github.com/chromedp"} {
			if strings.HasPrefix(dep, d) {
				t.Errorf("twofactortest imports %s", dep)
			}
		}
	}
}
