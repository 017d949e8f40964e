package twofactor_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoDriverImports: importing the library, a factor or the store
// interfaces never compiles a database or browser driver in; only the store
// adapter of that database does. Nor does it compile in an OpenTelemetry
// SDK or exporter: the library uses the OpenTelemetry API only, and the
// host picks the SDK.
func TestNoDriverImports(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("the go command is needed to list imports: %v", err)
	}
	pkgs := []string{".", "./totp", "./emailcode", "./smscode", "./backupcodes", "./webauthn", "./trust", "./store", "./store/sqlstore",
		"./event", "./keyring", "./notify", "./twofactorhttp", "./twofactortest"}
	drivers := []string{"modernc.org/sqlite", "github.com/jackc/pgx", "github.com/go-sql-driver/mysql", "github.com/redis/go-redis", "github.com/chromedp",
		"go.opentelemetry.io/otel/sdk", "go.opentelemetry.io/otel/exporters", "github.com/prometheus"}
	for _, p := range pkgs {
		out, err := exec.Command("go", "list", "-deps", p).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", p, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, d := range drivers {
				if strings.HasPrefix(dep, d) {
					t.Errorf("%s imports %s", p, dep)
				}
			}
		}
	}
}
