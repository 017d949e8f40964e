package twofactorhttp

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/twofactorkit/twofactor"
)

// The route table: every route of the challenge, the settings and the
// administrator pages, as net/http ServeMux patterns below the prefix of
// their tree. New registers them on a ServeMux per tree and mounts the
// trees on Config.Mux; a request the patterns do not match gets the
// layer's own 404 or 405 (with Allow), as a page or as JSON.

// A tree is where a route is mounted: the Handler's prefix, or the
// administrator pages' prefix behind AdminConfig.Guard.
type tree int

const (
	treeMain tree = iota
	treeAdmin
)

// route is one entry of the table.
type route struct {
	tree   tree
	method string // http.MethodGet (HEAD too) or http.MethodPost
	path   string // a ServeMux path pattern below the tree's prefix: "verify", "settings/{route}/verify"
	serve  http.HandlerFunc
}

// userRoute is a route of a signed-in user.
type userRoute = func(http.ResponseWriter, *http.Request, twofactor.User)

// adminRoute is a route of an administrator, named by AdminConfig.Actor.
type adminRoute = func(http.ResponseWriter, *http.Request, string)

const (
	routeChallenge = ""
	routeSend      = "send"
	routeStart     = "start"
	routeVerify    = "verify"
	routeCancel    = "cancel"
	routeStepUp    = "step-up"
	routeStyle     = "assets/style.css"
	routeScript    = "assets/twofactor.js"
)

// routes returns the table: the challenge's, the settings', each method
// UI's own and the administrator's.
func (h *Handler) routes() []route {
	get, post := http.MethodGet, http.MethodPost
	rs := []route{
		{treeMain, get, "{$}", h.serveChallenge},
		{treeMain, get, routeStyle, serveStyle},
		{treeMain, get, routeScript, serveScript},
		{treeMain, get, routeStepUp, h.serveStepUpPage},
		{treeMain, post, routeStepUp, h.serveStepUp},
		{treeMain, post, routeSend, h.serveSend},
		{treeMain, post, routeStart, h.serveStart},
		{treeMain, post, routeVerify, h.serveVerify},
		{treeMain, post, routeCancel, h.serveCancel},
	}
	rs = append(rs, h.settingsRoutes()...)
	for _, ui := range h.ui.list {
		rs = append(rs, ui.kind().routes(h, ui)...)
	}
	if h.admin.Actor != nil {
		rs = append(rs, h.adminRoutes()...)
	}
	return rs
}

// settingsRoutes are the settings pages' routes. The method pages are
// one set of patterns for every method, by the MethodUI's route.
func (h *Handler) settingsRoutes() []route {
	get, post := http.MethodGet, http.MethodPost
	rs := []route{
		{treeMain, get, "settings", func(w http.ResponseWriter, r *http.Request) { seeOther(w, h.url(routeSettings)) }},
		{treeMain, get, routeSettings + "{$}", h.asUser(h.serveOverview)},
		{treeMain, get, routeSettings + "{route}", h.asMethod(h.serveMethodPage)},
		{treeMain, post, routeSettings + "{route}", h.asMethod(h.serveBegin)},
		{treeMain, post, routeSettings + "{route}/verify", h.asMethod(h.serveConfirm)},
		{treeMain, post, routeSettings + "{route}/resend", h.asMethod(h.serveResend)},
		{treeMain, post, routeSettings + "{route}/rename", h.asMethod(h.serveRename)},
		{treeMain, get, routeSettingsCodes, h.asUser(h.serveCodes)},
		{treeMain, get, routeSettingsCodesTxt, h.asUser(h.serveCodesText)},
		{treeMain, post, routeSettingsCodesDone, h.asUser(h.serveCodesDone)},
		{treeMain, get, routeSettingsRemove, h.asUser(h.serveRemovePage)},
		{treeMain, post, routeSettingsRemove, h.asUser(h.serveRemove)},
		{treeMain, get, routeSettingsDisable, h.asUser(h.serveDisablePage)},
		{treeMain, post, routeSettingsDisable, h.asUser(h.serveDisable)},
		{treeMain, get, routeEnrollPrompt, h.asUser(h.serveEnrollPrompt)},
		{treeMain, post, routeEnrollPrompt, h.asUser(h.serveEnrollSkip)},
		{treeMain, get, routePasskeyOffer, h.asUser(h.servePasskeyOffer)},
		{treeMain, post, routePasskeyOffer, h.asUser(h.servePasskeyLater)},
	}
	if h.trust != nil {
		rs = append(rs,
			route{treeMain, get, routeSettingsDevices, h.asUser(h.serveDevices)},
			route{treeMain, post, routeSettingsRevoke, h.asUser(h.serveRevoke)},
			route{treeMain, get, routeSettingsRevokeAll, h.asUser(h.serveRevokeAllPage)},
			route{treeMain, post, routeSettingsRevokeAll, h.asUser(h.serveRevokeAll)},
		)
	}
	return rs
}

// adminRoutes are the administrator pages' routes.
func (h *Handler) adminRoutes() []route {
	get, post := http.MethodGet, http.MethodPost
	rs := []route{
		{treeAdmin, get, "{$}", h.asAdmin(h.serveAdminIndex)},
		{treeAdmin, get, routeAdminUser, h.asAdmin(h.serveAdminUser)},
		{treeAdmin, post, routeAdminReset, h.asAdmin(h.serveAdminReset)},
		{treeAdmin, post, routeAdminRecovery, h.asAdmin(h.serveAdminRecovery)},
		{treeAdmin, post, routeAdminUnlock, h.asAdmin(h.serveAdminUnlock)},
		{treeAdmin, get, routeAdminPolicy, h.asAdmin(h.serveAdminPolicy)},
	}
	if h.trust != nil {
		rs = append(rs,
			route{treeAdmin, post, routeAdminRevoke, h.asAdmin(h.serveAdminRevoke)},
			route{treeAdmin, post, routeAdminRevokeAll, h.asAdmin(h.serveAdminRevokeAll)},
		)
	}
	return rs
}

// asUser serves a route of the signed-in user: a signed-out browser
// asking for a page goes to the login page and back, anyone else gets 401
// signed_out; an id the Service's Users does not know fails closed.
func (h *Handler) asUser(serve userRoute) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, ok, err := h.user(r)
		switch {
		case !ok && isPage(r):
			seeOther(w, h.withNext(h.loginURL, cleanReturn(r.URL.RequestURI())))
		case !ok:
			h.fail(w, r, nil, errSignedOut)
		case err != nil:
			h.fail(w, r, nil, err)
		default:
			r, err := h.withPolicy(r, u)
			if err != nil {
				h.fail(w, r, nil, err)
				return
			}
			serve(w, r, u)
		}
	}
}

// methodRoute is a route of a method's settings page, for the signed-in
// user.
type methodRoute = func(http.ResponseWriter, *http.Request, twofactor.User, *methodUI)

// asMethod serves a route of the method whose settings page is the
// request's {route}: 404 when there is none (before asking who is signed
// in), then as asUser.
func (h *Handler) asMethod(serve methodRoute) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ui, ok := h.ui.atRoute(h, r.PathValue("route"))
		if !ok {
			h.fail(w, r, nil, errNotFound)
			return
		}
		h.asUser(func(w http.ResponseWriter, r *http.Request, u twofactor.User) {
			if !h.allowed(r.Context(), ui.Method) {
				h.fail(w, r, nil, errNotFound) // the user's policy does not allow it
				return
			}
			serve(w, r, u, ui)
		})(w, r)
	}
}

// asAdmin serves an administrator route: a request AdminConfig.Actor
// names nobody for is refused with 403.
func (h *Handler) asAdmin(serve adminRoute) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		actor := strings.TrimSpace(h.admin.Actor(r))
		if actor == "" {
			h.adminFail(w, r, errForbidden)
			return
		}
		serve(w, r, actor)
	}
}

// isPage reports whether r is a browser asking for a page.
func isPage(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && !wantsJSON(r)
}

// mount registers the table on a ServeMux per tree and mounts them on
// mux, then checks that mux sends every route to them: a pattern the host
// registered that shadows one is a configuration error, not a 404 at
// request time.
func (h *Handler) mount(mux *http.ServeMux) error {
	rs := h.routes()
	trees := map[tree]*http.ServeMux{treeMain: http.NewServeMux(), treeAdmin: http.NewServeMux()}
	for _, rt := range rs {
		serve := rt.serve
		if rt.method == http.MethodPost {
			serve = h.checkOrigin(serve)
		}
		pattern := rt.method + " " + h.treePrefix(rt.tree) + rt.path
		if err := handle(trees[rt.tree], pattern, serve); err != nil {
			return configErr("route %s: %v", pattern, err)
		}
	}
	if h.admin.Actor != nil {
		admin := h.admin.Guard(h.localizeAdmin(h.dispatch(trees[treeAdmin], h.adminFail)))
		if admin == nil {
			return configErr("Config.Admin.Guard returned a nil handler")
		}
		if err := handle(mux, h.adminPrefix, admin); err != nil {
			return configErr("Config.Mux cannot take the administrator pages at Config.Admin.Prefix %q: %v: remove the host's own handler for it, or choose another prefix", h.adminPrefix, err)
		}
	}
	main := h.localize(h.dispatch(trees[treeMain], func(w http.ResponseWriter, r *http.Request, err error) { h.fail(w, r, nil, err) }))
	if err := handle(mux, h.prefix, main); err != nil {
		return configErr("Config.Mux cannot take the Handler at Config.Prefix %q: %v: remove the host's own handler for it (New mounts the Handler itself), or choose another Config.Prefix", h.prefix, err)
	}
	return h.probe(mux, rs)
}

func (h *Handler) treePrefix(t tree) string {
	if t == treeAdmin {
		return h.adminPrefix
	}
	return h.prefix
}

// handle registers pattern on mux, turning its panic on a conflict into
// an error.
func handle(mux *http.ServeMux, pattern string, hd http.Handler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	mux.Handle(pattern, hd)
	return nil
}

// probe checks that mux routes a request for each route of rs to the
// tree mounted for it.
func (h *Handler) probe(mux *http.ServeMux, rs []route) error {
	sample := "x"
	if len(h.ui.list) > 0 {
		sample = h.ui.list[0].route
	}
	for _, rt := range rs {
		path := strings.NewReplacer("{$}", "", "{route}", sample).Replace(h.treePrefix(rt.tree) + rt.path)
		r, err := http.NewRequest(rt.method, path, nil)
		if err != nil {
			return configErr("route %s %s: %v", rt.method, path, err)
		}
		if _, pattern := mux.Handler(r); pattern != h.treePrefix(rt.tree) {
			return configErr("Config.Mux sends %s %s to %q, not to the Handler mounted at %q: remove that pattern from the mux, or choose another prefix",
				rt.method, path, pattern, h.treePrefix(rt.tree))
		}
	}
	return nil
}

// checkOrigin refuses a cross-origin request with 403 before anything
// happens (net/http's CrossOriginProtection).
func (h *Handler) checkOrigin(serve http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h.cop.Check(r); err != nil {
			h.fail(w, r, nil, errCrossOrigin)
			return
		}
		serve(w, r)
	}
}

// dispatch serves a tree's request through its ServeMux, and answers a
// request no pattern matches with the layer's 404 or 405.
func (h *Handler) dispatch(mux *http.ServeMux, fail func(http.ResponseWriter, *http.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// The ServeMux's own answer says which: 405 with the methods
		// allowed, or 404.
		rec := &statusRecorder{header: http.Header{}}
		hd.ServeHTTP(rec, r)
		if rec.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", rec.header.Get("Allow"))
			fail(w, r, errMethod)
			return
		}
		fail(w, r, errNotFound)
	})
}

// statusRecorder keeps the status and headers of an answer, and drops
// its body.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header         { return s.header }
func (s *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (s *statusRecorder) WriteHeader(status int) {
	if s.status == 0 {
		s.status = status
	}
}
