package twofactorhttp

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/twofactorkit/twofactor"
	"github.com/twofactorkit/twofactor/smscode"
)

// The phone (PhoneUI): the number form with its country picker, checked
// with the SMS factor's own parser so that the page says what is wrong
// with a number before a code is asked for, then the code sent to it.

// phoneKind is the phone's own steps.
type phoneKind struct{ baseKind }

// enroll reads the number and the region of the country picker, and
// refuses a number the SMS factor would refuse, saying why: the factor's
// own parser, with its allowed regions, when it is smscode's.
func (phoneKind) enroll(h *Handler, tx *Strings, ui *methodUI, f settingsForm, req *twofactor.EnrollRequest) error {
	number, region := f.get("number"), strings.ToUpper(strings.TrimSpace(f.get("region")))
	parse := smscode.ParsePhone
	if f, ok := ui.factor.(*smscode.Factor); ok {
		parse = f.ParsePhone
	}
	p, err := parse(number, region)
	if err != nil {
		return h.phoneProblem(tx, err)
	}
	req.Destination, req.Region = p.E164, region
	return nil
}

// refused words the factor's own refusal of a number.
func (phoneKind) refused(h *Handler, tx *Strings, err error) error {
	if errors.Is(err, twofactor.ErrInvalidInput) {
		return h.phoneProblem(tx, err)
	}
	return err
}

// phoneProblem turns the SMS factor's typed errors for a number into
// words of the string table.
func (h *Handler) phoneProblem(tx *Strings, err error) error {
	t := &tx.Settings
	var pe *smscode.PhoneError
	region := ""
	if errors.As(err, &pe) {
		region = pe.Region
	}
	msg := t.PhoneInvalidAny
	switch {
	case errors.Is(err, smscode.ErrPhoneEmpty):
		msg = t.PhoneEmpty
	case errors.Is(err, smscode.ErrPhoneNeedsRegion), errors.Is(err, smscode.ErrPhoneUnknownRegion):
		msg = t.PhoneNeedRegion
	case errors.Is(err, smscode.ErrPhoneCountryCode):
		msg = t.PhoneBadCountry
	case errors.Is(err, smscode.ErrPhoneTooShort):
		msg = t.PhoneTooShort
	case errors.Is(err, smscode.ErrPhoneTooLong):
		msg = t.PhoneTooLong
	case errors.Is(err, smscode.ErrPhoneInvalidForRegion):
		if name := tx.regionName(region); name != "" {
			msg = fmt.Sprintf(t.PhoneInvalid, name)
		}
	case errors.Is(err, smscode.ErrNumberType), errors.Is(err, smscode.ErrRegionNotAllowed):
		msg = t.PhoneRefused
	case !errors.Is(err, smscode.ErrInvalidPhone):
		// Refused by the factor for a reason it did not type: it cannot
		// take this number.
		msg = t.PhoneRefused
	}
	return &formError{code: CodeInvalidPhone, message: msg}
}

// pickedRegion is the country picker's default: the region of the
// browser's first language with one ("en-GB" gives "GB").
func pickedRegion(r *http.Request) string {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		fields := strings.Split(tag, "-")
		for _, f := range fields[1:] {
			if f = strings.ToUpper(f); len(f) == 2 && phonenumbers.GetSupportedRegions()[f] {
				return f
			}
		}
	}
	return ""
}

// page shows the number form when there is no phone yet or the user asks
// to replace it (?change=1), with the country of the refused form or the
// browser's; a code sent offers another number.
func (phoneKind) page(h *Handler, tx *Strings, p *methodPage) {
	page := h.settingsURL(p.ui)
	if p.v.Code != nil {
		p.v.Code.Other = &Link{URL: page + "?change=1", Text: tx.Settings.OtherNumber}
		return
	}
	if len(p.v.Factor.Enrollments) > 0 && !p.change {
		p.v.StepUp = false
		return
	}
	region := strings.ToUpper(strings.TrimSpace(p.form.get("region")))
	if region == "" {
		region = pickedRegion(p.r)
	}
	p.v.Phone = &PhoneView{Action: page, Regions: tx.regions(region)}
	if p.held != nil {
		p.v.Phone.Held, p.v.Phone.Other = smscode.MaskPhone(p.held.Request), page+"?change=1"
	}
}

func (phoneKind) codeLabel(t *Strings) string { return t.Settings.PhoneCodeLabel }

func (phoneKind) missing(t *Strings) string { return t.Admin.NoPhone }
