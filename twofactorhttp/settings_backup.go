package twofactorhttp

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/twofactorkit/twofactor"
)

// Backup codes: how many are left, a new set (after a step-up when the
// user has any factor), and the page that shows a new set once, with its
// download as a text file and a print button.

// remainder is a backup-code factor that tells how many unused codes a
// user has left.
type remainder interface {
	Remaining(ctx context.Context, user twofactor.User) (int, error)
}

// lowCodes is the count of backup codes left at which the pages prompt
// for a new set.
const lowCodes = 2

// codesLife is how long a new set of backup codes can be downloaded by
// the browser it was made for, after the page that shows it.
const codesLife = 10 * time.Minute

// backupView describes the user's backup codes, or returns nil when the
// Service has no backup-code factor.
func (h *Handler) backupView(ctx context.Context, u twofactor.User, es []twofactor.Enrollment) (*BackupView, error) {
	const m = twofactor.MethodBackupCode
	if !h.configured(m) {
		return nil, nil
	}
	t := &h.text.Settings
	v := &BackupView{URL: h.url(routeSettingsBackup), New: h.url(routeSettingsBackupNew), Remaining: -1}
	for _, e := range es {
		if e.Method == m {
			v.Added = fmt.Sprintf(t.Added, h.date(e.CreatedAt))
			v.LastUsed = t.NeverUsed
			if !e.LastUsedAt.IsZero() {
				v.LastUsed = fmt.Sprintf(t.LastUsed, h.dateTime(e.LastUsedAt))
			}
			v.On = true
			break
		}
	}
	f, _ := h.svc.Factor(m)
	if rf, ok := f.(remainder); ok {
		n, err := rf.Remaining(ctx, u)
		if err != nil {
			return nil, err
		}
		v.Remaining, v.On = n, n > 0
	}
	switch {
	case !v.On:
		v.Text, v.Added, v.LastUsed = t.BackupNone, "", ""
	case v.Remaining == 1:
		v.Text = t.BackupOneLeft
	case v.Remaining > 1:
		v.Text = fmt.Sprintf(t.BackupLeft, v.Remaining)
	}
	// A prompt when few of a set are left. A user without a set at all
	// reads BackupNone, with its link to make one.
	v.Low = v.On && v.Remaining >= 0 && v.Remaining <= lowCodes
	return v, nil
}

// serveBackup (GET settings/backup-codes) shows how many backup codes
// are left, and the way to a new set.
func (h *Handler) serveBackup(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	const m = twofactor.MethodBackupCode
	if !h.configured(m) {
		h.fail(w, r, nil, errNotFound)
		return
	}
	es, err := h.svc.Enrollments(r.Context(), u)
	if err != nil {
		h.settingsFail(w, r, m, "", err, nil)
		return
	}
	b, err := h.backupView(r.Context(), u, es)
	if err != nil {
		h.settingsFail(w, r, m, "", err, nil)
		return
	}
	if wantsJSON(r) {
		h.writeJSON(w, http.StatusOK, backupOut{On: b.On, Remaining: max(b.Remaining, 0), Low: b.Low})
		return
	}
	h.settingsPage(w, r, http.StatusOK, PageSettingsBackup, h.text.Settings.BackupTitle, &SettingsView{Backup: b}, nil)
}

// serveBackupNew (GET settings/backup-codes/new) asks before making a new
// set, after a step-up when the user has any factor.
func (h *Handler) serveBackupNew(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	const m = twofactor.MethodBackupCode
	if !h.configured(m) {
		h.fail(w, r, nil, errNotFound)
		return
	}
	es, err := h.svc.Enrollments(r.Context(), u)
	if err == nil && len(es) > 0 {
		_, err = h.freshProof(r, u)
	}
	var b *BackupView
	if err == nil {
		b, err = h.backupView(r.Context(), u, es)
	}
	if err != nil {
		h.settingsFail(w, r, m, h.url(routeSettingsBackupNew), err, nil)
		return
	}
	t := &h.text.Settings
	c := &ConfirmView{Message: t.BackupGenerate, Button: t.BackupGenerate, Action: h.url(routeSettingsBackup),
		Cancel: h.url(routeSettingsBackup)}
	if b.On {
		c.Message, c.Warning, c.Button = t.BackupRegenerate, t.BackupRegenNote, t.BackupRegenerate
	}
	if wantsJSON(r) {
		h.writeJSON(w, http.StatusOK, backupOut{On: b.On, Remaining: max(b.Remaining, 0), Low: b.Low})
		return
	}
	h.settingsPage(w, r, http.StatusOK, PageSettingsConfirm, c.Message, &SettingsView{Confirm: c, Backup: b}, nil)
}

type codesOut struct {
	OK          bool     `json:"ok"`
	Status      string   `json:"status"` // "generated"
	BackupCodes []string `json:"backup_codes"`
	Next        string   `json:"next"`
}

// serveBackupGenerate (POST settings/backup-codes) makes a new set of
// backup codes (Service.BeginEnroll), which kills the old one, and shows
// it once. A JSON client gets the codes in the answer, once.
func (h *Handler) serveBackupGenerate(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	const m = twofactor.MethodBackupCode
	back := h.url(routeSettingsBackupNew)
	if !h.configured(m) {
		h.fail(w, r, nil, errNotFound)
		return
	}
	if _, err := readSettingsForm(w, r); err != nil {
		h.settingsFail(w, r, m, back, err, nil)
		return
	}
	en, err := h.svc.BeginEnroll(r.Context(), u, m, twofactor.EnrollRequest{Client: h.client(r)}, h.stepUpProof(r, u.ID))
	if err != nil {
		h.settingsFail(w, r, m, back, err, nil)
		return
	}
	h.keepCodes(w, r, u, en.Codes)
	if wantsJSON(r) {
		h.writeJSON(w, http.StatusOK, codesOut{OK: true, Status: "generated", BackupCodes: en.Codes, Next: h.url(routeSettings)})
		return
	}
	seeOther(w, h.url(routeSettingsCodes))
}

// newCodes is a new set of backup codes in its cookie, until the page
// showed it (Shown) and the download expires.
type newCodes struct {
	Codes []string `json:"c"`
	Shown bool     `json:"s,omitempty"`
	Until int64    `json:"u"` // Unix seconds
}

// keepCodes keeps a new set of backup codes, sealed for u, for the page
// that shows it once and for its download.
func (h *Handler) keepCodes(w http.ResponseWriter, r *http.Request, u twofactor.User, codes []string) {
	until := h.now().Add(codesLife)
	h.sealCookie(w, r, h.codesName(), u.ID, newCodes{Codes: codes, Until: until.Unix()}, until)
}

func (h *Handler) readCodes(r *http.Request, u twofactor.User) (*newCodes, bool) {
	var c newCodes
	if !h.openCookie(r, h.codesName(), u.ID, &c) || len(c.Codes) == 0 || !h.now().Before(time.Unix(c.Until, 0)) {
		return nil, false
	}
	return &c, true
}

// serveCodes (GET settings/backup-codes/show) shows a new set of backup
// codes, once: shown again, the page says they are gone.
func (h *Handler) serveCodes(w http.ResponseWriter, r *http.Request, u twofactor.User) {
	c, ok := h.readCodes(r, u)
	if !ok || c.Shown {
		h.codesGone(w, r)
		return
	}
	c.Shown = true
	h.sealCookie(w, r, h.codesName(), u.ID, c, time.Unix(c.Until, 0))
	if wantsJSON(r) {
		h.writeJSON(w, http.StatusOK, codesOut{OK: true, Status: "generated", BackupCodes: c.Codes, Next: h.url(routeSettings)})
		return
	}
	t := &h.text.Settings
	h.settingsPage(w, r, http.StatusOK, PageSettingsCodes, t.BackupShownTitle, &SettingsView{Codes: c.Codes, Download: h.url(routeSettingsCodesTxt),
		Confirm: &ConfirmView{Action: h.url(routeSettingsCodesDone), Button: t.BackupDone}}, nil)
}

func (h *Handler) codesGone(w http.ResponseWriter, r *http.Request) {
	t := &h.text.Settings
	if wantsJSON(r) {
		h.writeJSON(w, http.StatusNotFound, ErrorBody{Error: CodeNotFound, Message: t.BackupGone, Next: h.url(routeSettingsBackup)})
		return
	}
	h.render(w, r, http.StatusNotFound, &PageData{Page: PageMessage, Title: t.BackupTitle, Message: t.BackupGone,
		Error: &ErrorView{Code: CodeNotFound, Message: t.BackupGone}, Link: &Link{URL: h.url(routeSettingsBackup), Text: t.BackupTitle}})
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
	b.WriteString(h.text.Settings.BackupFileHead + "\r\n")
	if name := stripControl(u.AccountName()); name != "" {
		b.WriteString(name + "\r\n")
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
		h.settingsFail(w, r, twofactor.MethodBackupCode, "", err, nil)
		return
	}
	h.dropCookie(w, r, h.codesName())
	h.done(w, r, "saved", h.url(routeSettings), "")
}
