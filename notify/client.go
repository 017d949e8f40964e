package notify

import (
	"context"
	"net/http"

	"github.com/twofactorkit/twofactor/trust"
)

// Events carry the client's address but not its browser. A host that
// wants the browser named in FailedSecondStep and Lockout messages passes
// the request's User-Agent in the context it gives the Service, with
// WithUserAgent or Middleware; the hook reads it from there. Without it
// those messages say the browser is unknown.

type uaKey struct{}

// WithUserAgent returns ctx carrying the client's User-Agent header, for
// the Service calls whose events may lead to a message (Verify). Only the
// browser family and operating system are kept ("Firefox on Linux").
func WithUserAgent(ctx context.Context, userAgent string) context.Context {
	return context.WithValue(ctx, uaKey{}, userAgent)
}

// Middleware puts each request's User-Agent in its context (see
// WithUserAgent). Wrap the handler that verifies second factors with it,
// such as the twofactorhttp handler.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(WithUserAgent(r.Context(), r.UserAgent())))
	})
}

func userAgent(ctx context.Context) (string, bool) {
	ua, ok := ctx.Value(uaKey{}).(string)
	return ua, ok && ua != ""
}

// browserLabel names a browser as the devices page does: "Firefox on
// Linux".
func browserLabel(ua string) string { return trust.ParseAgent(ua).Label() }
