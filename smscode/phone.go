package smscode

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/twofactorkit/twofactor"
)

// Phone is a phone number as ParsePhone reads it.
type Phone struct {
	// E164 is the number in E.164 form: "+14155550112".
	E164 string
	// Region is the ISO 3166-1 region the number belongs to, which is not
	// always the one its calling code suggests ("JM" for +1 876), or
	// "001" for a number of no country (international networks).
	Region string
}

// ErrInvalidPhone is matched by every error for something that is not a
// valid phone number: each of the ErrPhone errors below wraps it, and it
// wraps twofactor.ErrInvalidInput. A valid number that is refused is
// ErrNumberType or ErrRegionNotAllowed instead.
var ErrInvalidPhone = fmt.Errorf("smscode: invalid phone number: %w", twofactor.ErrInvalidInput)

// Why a number is not a valid phone number. Each is one thing a page can
// say, and matches ErrInvalidPhone and twofactor.ErrInvalidInput; the
// error ParsePhone returns is a *PhoneError wrapping one of them (match
// with errors.Is). Nothing is stored or sent when they occur.
var (
	// ErrPhoneEmpty: nothing was typed.
	ErrPhoneEmpty error = &phoneReason{"empty"}
	// ErrPhoneNotNumber: what was typed is not a phone number (letters,
	// stray symbols).
	ErrPhoneNotNumber error = &phoneReason{"not a phone number"}
	// ErrPhoneNeedsRegion: a national number (no leading "+") came
	// without a region to read it in.
	ErrPhoneNeedsRegion error = &phoneReason{"a national number needs a region"}
	// ErrPhoneUnknownRegion: the region given is not an ISO 3166-1
	// alpha-2 code phone numbers are known for.
	ErrPhoneUnknownRegion error = &phoneReason{"unknown region"}
	// ErrPhoneCountryCode: no country has the number's calling code
	// ("+999").
	ErrPhoneCountryCode error = &phoneReason{"unknown country calling code"}
	// ErrPhoneTooShort: too few digits for a number of its region (a
	// local number missing its area code too).
	ErrPhoneTooShort error = &phoneReason{"too short"}
	// ErrPhoneTooLong: too many digits for a number of its region, or
	// more than 64 characters typed.
	ErrPhoneTooLong error = &phoneReason{"too long"}
	// ErrPhoneInvalidForRegion: the number has a plausible length but is
	// no number of its region (PhoneError.Region names it).
	ErrPhoneInvalidForRegion error = &phoneReason{"not a valid number for its region"}
)

// Valid numbers that are refused. Each matches twofactor.ErrInvalidInput,
// not ErrInvalidPhone; the error is a *PhoneError wrapping one of them,
// whose Region is the number's.
var (
	// ErrNumberType: the number is premium-rate, shared-cost, toll-free,
	// a pager, a voicemail access number or a universal access number;
	// such numbers cannot receive codes, and premium ones are what SMS
	// pumping abuses.
	ErrNumberType = fmt.Errorf("smscode: phone number type cannot receive codes: %w", twofactor.ErrInvalidInput)
	// ErrRegionNotAllowed: the number's region is not in
	// Config.AllowedRegions.
	ErrRegionNotAllowed = fmt.Errorf("smscode: phone number region not allowed: %w", twofactor.ErrInvalidInput)
)

// phoneReason is one of the ErrPhone errors.
type phoneReason struct{ what string }

func (e *phoneReason) Error() string { return "smscode: invalid phone number: " + e.what }
func (e *phoneReason) Unwrap() error { return ErrInvalidPhone }

// PhoneError is the error of a number ParsePhone or Factor.ParsePhone
// refuses. Err is one of the ErrPhone errors, ErrNumberType or
// ErrRegionNotAllowed, which errors.Is finds through it; Region is the
// region the number was read as, when that is known (always for
// ErrPhoneInvalidForRegion, ErrNumberType and ErrRegionNotAllowed), so a
// page can say "not a valid number for the United Kingdom". It never holds
// the number.
type PhoneError struct {
	Err    error
	Region string
}

func (e *PhoneError) Error() string {
	if e.Region == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + " (" + e.Region + ")"
}

func (e *PhoneError) Unwrap() error { return e.Err }

// maxPhoneInput bounds the typed number before parsing.
const maxPhoneInput = 64

// refusedTypes are number types that are never enrolled.
var refusedTypes = []phonenumbers.PhoneNumberType{
	phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST, phonenumbers.TOLL_FREE,
	phonenumbers.PAGER, phonenumbers.VOICEMAIL, phonenumbers.UAN, phonenumbers.PERSONAL_NUMBER,
}

// ParsePhone parses a number as a user typed it, with region as the hint
// for a national number (an ISO 3166-1 alpha-2 code such as "US" or "gb",
// from a country picker; it may be empty when the number starts with
// "+", and is then ignored), and returns it in E.164 form with its
// region. It is what the SMS factor's BeginEnroll applies, less the
// factor's AllowedRegions (see Factor.ParsePhone), so a page can check a
// number and say what is wrong with it before asking for a code.
//
// A refused number is a *PhoneError (errors.As) wrapping, for errors.Is,
// one of ErrPhoneEmpty, ErrPhoneNotNumber, ErrPhoneNeedsRegion,
// ErrPhoneUnknownRegion, ErrPhoneCountryCode, ErrPhoneTooShort,
// ErrPhoneTooLong and ErrPhoneInvalidForRegion (all matching
// ErrInvalidPhone), or ErrNumberType; every one matches
// twofactor.ErrInvalidInput.
func ParsePhone(number, region string) (Phone, error) {
	number = strings.TrimSpace(number)
	region = strings.ToUpper(strings.TrimSpace(region))
	switch {
	case number == "":
		return Phone{}, &PhoneError{Err: ErrPhoneEmpty}
	case len(number) > maxPhoneInput:
		return Phone{}, &PhoneError{Err: ErrPhoneTooLong}
	case region != "" && !phonenumbers.GetSupportedRegions()[region]:
		return Phone{}, &PhoneError{Err: ErrPhoneUnknownRegion}
	case region == "" && !strings.HasPrefix(number, "+"):
		return Phone{}, &PhoneError{Err: ErrPhoneNeedsRegion}
	}
	num, err := parse(number, region)
	switch {
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		return Phone{}, &PhoneError{Err: ErrPhoneCountryCode}
	case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
		return Phone{}, &PhoneError{Err: ErrPhoneTooShort}
	case errors.Is(err, phonenumbers.ErrNumTooLong):
		return Phone{}, &PhoneError{Err: ErrPhoneTooLong}
	case err != nil:
		return Phone{}, &PhoneError{Err: ErrPhoneNotNumber}
	}
	read := readRegion(num, region)
	switch phonenumbers.IsPossibleNumberWithReason(num) {
	case phonenumbers.TOO_SHORT, phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		return Phone{}, &PhoneError{Err: ErrPhoneTooShort, Region: read}
	case phonenumbers.TOO_LONG:
		return Phone{}, &PhoneError{Err: ErrPhoneTooLong, Region: read}
	case phonenumbers.INVALID_COUNTRY_CODE:
		return Phone{}, &PhoneError{Err: ErrPhoneCountryCode}
	}
	if !phonenumbers.IsValidNumber(num) {
		return Phone{}, &PhoneError{Err: ErrPhoneInvalidForRegion, Region: read}
	}
	p := Phone{E164: phonenumbers.Format(num, phonenumbers.E164),
		Region: cmp.Or(phonenumbers.GetRegionCodeForNumber(num), phonenumbers.UNKNOWN_REGION)}
	if slices.Contains(refusedTypes, phonenumbers.GetNumberType(num)) {
		return Phone{}, &PhoneError{Err: ErrNumberType, Region: p.Region}
	}
	return p, nil
}

// readRegion returns the region a number that may not be valid was read
// as: the hint when it has the number's calling code, else the main region
// of that code ("001" for no country), empty when none has it.
func readRegion(num *phonenumbers.PhoneNumber, hint string) string {
	cc := int(num.GetCountryCode())
	if hint != "" && phonenumbers.GetCountryCodeForRegion(hint) == cc {
		return hint
	}
	r := phonenumbers.GetRegionCodeForCountryCode(cc)
	if r == phonenumbers.UNKNOWN_REGION {
		return ""
	}
	return r
}

// parse calls phonenumbers.Parse and turns a panic in it (hostile input
// reaching a corner of the library) into an error.
func parse(number, region string) (num *phonenumbers.PhoneNumber, err error) {
	defer func() {
		if r := recover(); r != nil {
			num, err = nil, errors.New("phone number parser failed")
		}
	}()
	return phonenumbers.Parse(number, region)
}

// regionOf returns the region of an E.164 number, "ZZ" if it does not
// parse (numbers are checked when enrolled, so this does not happen).
func regionOf(e164 string) string {
	num, err := parse(e164, "")
	if err != nil {
		return phonenumbers.UNKNOWN_REGION
	}
	return cmp.Or(phonenumbers.GetRegionCodeForNumber(num), phonenumbers.UNKNOWN_REGION)
}

// MaskPhone returns a number for display with every digit after the
// country code hidden except the last two, grouped as the number is
// written internationally: "+14155550112" gives "+1 *** *** **12". A value
// that does not parse is masked whole.
func MaskPhone(e164 string) string {
	if len(e164) > maxPhoneInput || !strings.HasPrefix(e164, "+") {
		return "***"
	}
	num, err := parse(e164, "")
	if err != nil {
		return "***"
	}
	intl := phonenumbers.Format(num, phonenumbers.INTERNATIONAL)
	cc := "+" + strconv.Itoa(int(num.GetCountryCode()))
	rest, ok := strings.CutPrefix(intl, cc)
	if !ok {
		return "***"
	}
	digits := 0
	for i := 0; i < len(rest); i++ {
		if rest[i] >= '0' && rest[i] <= '9' {
			digits++
		}
	}
	var b strings.Builder
	b.WriteString(cc)
	seen := 0
	space := false
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case c >= '0' && c <= '9':
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			seen++
			if seen > digits-2 {
				b.WriteByte(c)
			} else {
				b.WriteByte('*')
			}
		default: // separators: space, hyphen, dot, parentheses
			space = true
		}
	}
	return b.String()
}
