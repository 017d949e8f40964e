package twofactorhttp

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/totp"
)

// New codes: a set a factor makes at once (backup codes, Enrolling.Codes)
// or that comes with a user's first factor (Enrolled.BackupCodes) is kept
// sealed in a cookie of the browser it was made for and shown once by the
// page of new codes, with its download as a text file and a print button.
// Backup codes (BackupCodesUI) also have their page: how many are left,
// and a confirmation before a new set replaces the old one.

// codesLife is how long a new set of codes can be downloaded by the
// browser it was made for, after the page that shows it.
const codesLife = 10 * time.Minute

// codesKind is backup codes' own steps.
type codesKind struct{ baseKind }

func (codesKind) row(h *Handler, tx *Strings, fv *FactorView) {
	fv.Name = tx.Settings.BackupTitle
	if fv.URL != "" {
		fv.New = fv.URL + "/new"
	}
}

// beginBack: a new set is asked for on its confirmation page.
func (codesKind) beginBack(h *Handler, ui *methodUI, _ bool) string {
	return h.settingsURL(ui) + "/new"
}

func (codesKind) routes(h *Handler, ui *methodUI) []route {
	return []route{{treeMain, http.MethodGet, routeSettings + ui.route + "/new",
		h.asUser(func(w http.ResponseWriter, r *http.Request, u twofactor.User) { h.serveCodesNew(w, r, u, ui) })}}
}

// serveCodesNew (GET settings/backup-codes/new) asks before making a new
// set, after a step-up when the user has any factor.
func (h *Handler) serveCodesNew(w http.ResponseWriter, r *http.Request, u twofactor.User, ui *methodUI) {
	ctx := r.Context()
	es, err := h.svc.Enrollments(ctx, u)
	if err == nil && len(es) > 0 {
		_, err = h.freshProof(r, u)
	}
	var fv FactorView
	if err == nil {
		fv, err = h.factorView(ctx, ui, u, es)
	}
	if err != nil {
		h.settingsFail(w, r, ui.Method, r.URL.RequestURI(), err, nil)
		return
	}
	t := &h.tr(r).Settings
	page := h.settingsURL(ui)
	c := &ConfirmView{Message: t.BackupGenerate, Button: t.BackupGenerate, Action: page, Cancel: page}
	if len(fv.Enrollments) > 0 || fv.Remaining > 0 {
		c.Message, c.Warning, c.Button = t.BackupRegenerate, t.BackupRegenNote, t.BackupRegenerate
	}
	if wantsJSON(r) {
		h.writeJSON(w, r, http.StatusOK, factorJSON(fv))
		return
	}
	h.settingsPage(w, r, http.StatusOK, PageSettingsConfirm, c.Message, &SettingsView{Confirm: c, Factor: &fv}, nil, false)
}

// newCodes is a new set of codes in its cookie, until the page showed it
// (Shown) and the download expires.
type newCodes struct {
	Codes []string `json:"c"`
	Shown bool     `json:"s,omitempty"`
	Until int64    `json:"u"`           // Unix seconds
	Made  int64    `json:"m,omitempty"` // Unix seconds: when the set was made, for its header
}

// keepCodes keeps a new set of codes, sealed for u, for the page that
// shows it once and for its download.
func (h *Handler) keepCodes(w http.ResponseWriter, r *http.Request, u twofactor.User, codes []string) {
	now := h.now()
	until := now.Add(codesLife)
	h.sealCookie(w, r, h.codesName(), u.ID, newCodes{Codes: codes, Until: until.Unix(), Made: now.Unix()}, until)
}

func (h *Handler) readCodes(r *http.Request, u twofactor.User) (*newCodes, bool) {
	var c newCodes
	if !h.openCookie(r, h.codesName(), u.ID, &c) || len(c.Codes) == 0 || !h.now().Before(time.Unix(c.Until, 0)) {
		return nil, false
	}
	return &c, true
}

// serveCodes (GET settings/backup-codes/show) shows a new set of codes,
// once: shown again, the page says they are gone.
func (h *Handler) serveCodes(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	c, ok := h.readCodes(r, u)
	if !ok || c.Shown {
		h.codesGone(w, r)
		return
	}
	c.Shown = true
	h.sealCookie(w, r, h.codesName(), u.ID, c, time.Unix(c.Until, 0))
	if wantsJSON(r) {
		h.writeJSON(w, r, http.StatusOK, codesOut{OK: true, Status: "generated", BackupCodes: c.Codes, Next: h.url(routeSettings)})
		return
	}
	t := &h.tr(r).Settings
	v := &SettingsView{Codes: c.Codes, Download: h.url(routeSettingsCodesTxt),
		Confirm: &ConfirmView{Action: h.url(routeSettingsCodesDone), Button: t.BackupDone}}
	v.Product, v.Account, v.Generated = h.codesHeader(r, u, c)
	h.settingsPage(w, r, http.StatusOK, PageSettingsCodes, t.BackupShownTitle, v, nil, false)
}

// codesHeader returns what a new set of codes is for, on its page, on
// paper and in its file: the product, the account ("Account: ada") and
// when the set was made ("Generated 2 Mar 2026 09:00 UTC"). The product
// is SettingsStrings.Product, else the issuer an authenticator app shows
// (totp.Config.Issuer) when one was set, else "".
func (h *Handler) codesHeader(r *http.Request, u twofactor.User, c *newCodes) (product, account, made string) {
	t := &h.tr(r).Settings
	product = t.Product
	if product == "" {
		if f, ok := h.svc.Factor(twofactor.MethodTOTP); ok {
			if tf, ok := f.(*totp.Factor); ok && tf.Issuer() != totp.DefaultIssuer {
				product = tf.Issuer()
			}
		}
	}
	if name := stripControl(u.AccountName()); name != "" {
		account = fmt.Sprintf(t.BackupAccount, name)
	}
	if c.Made > 0 {
		made = fmt.Sprintf(t.BackupMade, h.tr(r).dateTime(time.Unix(c.Made, 0)))
	}
	return stripControl(product), account, made
}

func (h *Handler) codesGone(w http.ResponseWriter, r *http.Request) {
	t := &h.tr(r).Settings
	if wantsJSON(r) {
		h.writeJSON(w, r, http.StatusNotFound, ErrorBody{Error: CodeNotFound, Message: t.BackupGone, Next: h.url(routeSettings)})
		return
	}
	h.render(w, r, http.StatusNotFound, &PageData{Page: PageMessage, Title: t.BackupShownTitle, Message: t.BackupGone,
		Error: &ErrorView{Code: CodeNotFound, Message: t.BackupGone}, Link: &Link{URL: h.url(routeSettings), Text: t.Back}})
}

// serveCodesText (GET settings/backup-codes.txt) downloads the new set as
// a text file, for the browser it was made for, within minutes of it.
func (h *Handler) serveCodesText(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	c, ok := h.readCodes(r, u)
	if !ok {
		h.codesGone(w, r)
		return
	}
	var b bytes.Buffer
	product, account, made := h.codesHeader(r, u, c)
	for _, line := range []string{product, h.tr(r).Settings.BackupFileHead, account, made} {
		if line != "" {
			b.WriteString(line + "\r\n")
		}
	}
	b.WriteString("\r\n")
	for _, code := range c.Codes {
		b.WriteString(code + "\r\n")
	}
	securityHeaders(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("Content-Disposition", `attachment; filename="backup-codes.txt"`)
	hd.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b.Bytes())
	}
}

// serveCodesDone (POST settings/backup-codes/done) forgets the new set:
// the user saved it.
func (h *Handler) serveCodesDone(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	if _, err := readSettingsForm(w, r); err != nil {
		h.settingsFail(w, r, "", "", err, nil)
		return
	}
	h.dropCookie(w, r, h.codesName())
	h.done(w, r, "saved", h.url(routeSettings), savedCodes)
}
