package smscode

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/twofactorkit/twofactor"
)

// Errors for phone numbers that are refused. Each matches
// twofactor.ErrInvalidInput; nothing is stored or sent when they occur.
var (
	// ErrInvalidPhone: the number does not parse or is not a valid number
	// for its region (a national number needs a region hint).
	ErrInvalidPhone = fmt.Errorf("smscode: invalid phone number: %w", twofactor.ErrInvalidInput)
	// ErrRegionNotAllowed: the number's region is not in
	// Config.AllowedRegions.
	ErrRegionNotAllowed = fmt.Errorf("smscode: phone number region not allowed: %w", twofactor.ErrInvalidInput)
	// ErrNumberType: the number is premium-rate, shared-cost, toll-free,
	// a pager or a voicemail access number; such numbers cannot receive
	// codes, and premium ones are what SMS pumping abuses.
	ErrNumberType = fmt.Errorf("smscode: phone number type cannot receive codes: %w", twofactor.ErrInvalidInput)
)

// maxPhoneInput bounds the typed number before parsing.
const maxPhoneInput = 64

// refusedTypes are number types that are never enrolled.
var refusedTypes = []phonenumbers.PhoneNumberType{
	phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST, phonenumbers.TOLL_FREE,
	phonenumbers.PAGER, phonenumbers.VOICEMAIL, phonenumbers.UAN,
}

// ParsePhone parses a number typed by a user, with region as the hint for
// national numbers (an ISO 3166-1 alpha-2 code such as "US", "GB"; empty
// when the number starts with "+"), and returns it in E.164 form
// ("+14155550112") with its region. Errors match ErrInvalidPhone or
// ErrNumberType, and twofactor.ErrInvalidInput.
func ParsePhone(number, region string) (e164, numberRegion string, err error) {
	if len(number) > maxPhoneInput || len(region) > 3 {
		return "", "", fmt.Errorf("%w (too long)", ErrInvalidPhone)
	}
	number = strings.TrimSpace(number)
	region = strings.ToUpper(strings.TrimSpace(region))
	if number == "" {
		return "", "", fmt.Errorf("%w (empty)", ErrInvalidPhone)
	}
	if region != "" && !phonenumbers.GetSupportedRegions()[region] {
		return "", "", fmt.Errorf("%w (unknown region %q)", ErrInvalidPhone, region)
	}
	if region == "" && !strings.HasPrefix(number, "+") {
		return "", "", fmt.Errorf("%w (a national number needs a region)", ErrInvalidPhone)
	}
	num, err := parse(number, region)
	if err != nil || !phonenumbers.IsValidNumber(num) {
		return "", "", ErrInvalidPhone
	}
	if slices.Contains(refusedTypes, phonenumbers.GetNumberType(num)) {
		return "", "", ErrNumberType
	}
	return phonenumbers.Format(num, phonenumbers.E164), phonenumbers.GetRegionCodeForNumber(num), nil
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
