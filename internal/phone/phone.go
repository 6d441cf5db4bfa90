// Package phone validates and normalises mainland China mobile numbers.
//
// Every number that enters xszz goes through Normalize, so that storage,
// rate limits and SMS gateways only ever see one spelling of a number
// (E.164, "+86" followed by 11 digits). Anything that is not a mainland
// mobile number is rejected: the SMS gateways would happily deliver to
// premium international numbers, which is how SMS toll fraud works
// (SECURITY.md #47).
package phone

import (
	"errors"
	"strings"
)

// ErrInvalid matches (errors.Is) every error returned by Normalize.
var ErrInvalid = errors.New("phone: invalid mainland mobile number")

// Reason says why a number was rejected. It is meant for logs and tests;
// end users get UserMessage.
type Reason string

const (
	ReasonEmpty     Reason = "empty"
	ReasonTooLong   Reason = "input too long"
	ReasonCharacter Reason = "character not allowed"
	ReasonCountry   Reason = "not a +86 number"
	ReasonLength    Reason = "not 11 digits"
	ReasonPrefix    Reason = "not an allocated mobile prefix"
)

// UserMessage is the text shown to people who typed an invalid number.
const UserMessage = "请输入有效的中国大陆手机号码"

// InvalidError is the error Normalize returns. It never contains the
// input, so it can be logged without leaking personal data.
type InvalidError struct {
	Reason Reason
}

func (e *InvalidError) Error() string {
	return "phone: invalid mainland mobile number: " + string(e.Reason)
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(r Reason) error { return &InvalidError{Reason: r} }

// maxInput bounds the work done on hostile input; the longest sane spelling
// ("0086 138-0013-8000" with generous spacing) is far below it.
const maxInput = 64

// Normalize returns the E.164 form ("+8613800138000") of a mainland mobile
// number, or an *InvalidError.
//
// Accepted spellings: 11 digits, optionally preceded by "+86", "0086" or
// "86", with ASCII spaces and hyphens anywhere between digits.
//
// Full-width input (SECURITY.md #47 says "normalise or reject"): we
// normalise, because Chinese input methods produce full-width characters
// and rejecting them would lock real users out. The mapping is deliberately
// narrow — only the full-width forms of the characters we accept anyway
// (U+FF10–U+FF19 digits, U+FF0B plus, U+FF0D hyphen, U+3000 ideographic
// space) — rather than full NFKC, which would also turn superscripts,
// circled digits and other look-alikes into digits. Everything else is
// rejected, including zero-width characters, tabs, CR and LF, and other
// scripts' digits.
func Normalize(s string) (string, error) {
	if len(s) > maxInput {
		return "", invalid(ReasonTooLong)
	}
	var (
		digits  [maxInput]byte
		n       int
		plus    bool
		started bool
	)
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits[n] = byte(r)
			n++
			started = true
		case r >= '０' && r <= '９':
			digits[n] = byte(r-'０') + '0'
			n++
			started = true
		case r == '+' || r == '＋':
			// A plus is only meaningful in front of the country code.
			if started || plus {
				return "", invalid(ReasonCharacter)
			}
			plus = true
		case r == ' ' || r == '-' || r == '\u3000' || r == '－':
			// Separators carry no meaning.
		default:
			return "", invalid(ReasonCharacter)
		}
	}
	if n == 0 {
		return "", invalid(ReasonEmpty)
	}
	d := string(digits[:n])
	switch {
	case plus:
		if !strings.HasPrefix(d, "86") {
			return "", invalid(ReasonCountry)
		}
		d = d[2:]
	case strings.HasPrefix(d, "0086"):
		d = d[4:]
	case strings.HasPrefix(d, "00"):
		// Another international prefix.
		return "", invalid(ReasonCountry)
	case len(d) == 13 && strings.HasPrefix(d, "86"):
		// Bare 11-digit numbers start with 1, so "86" + 11 digits is
		// unambiguous.
		d = d[2:]
	}
	if len(d) != 11 {
		return "", invalid(ReasonLength)
	}
	if !allocated(d) {
		return "", invalid(ReasonPrefix)
	}
	return "+86" + d, nil
}

// allocated reports whether an 11-digit national number starts with one of
// the 56 network codes (网号) MIIT had allocated to mobile operators as of
// 2023-03 (see shared/data/mobile_prefixes.md; strict regex
// ^1(?:3\d|4[5-9]|5[0-35-9]|6[25-7]|7[0-8]|8\d|9[0-35-9])\d{8}$).
// We use the strict list rather than ^1[3-9]: an unknown prefix cannot
// receive our SMS anyway, and refusing it early costs nothing. When MIIT
// allocates a new block, add it here.
func allocated(d string) bool {
	if d[0] != '1' {
		return false
	}
	c := d[2]
	switch d[1] {
	case '3', '8':
		return true
	case '4':
		return c >= '5' && c <= '9'
	case '5':
		return c != '4'
	case '6':
		return c == '2' || c == '5' || c == '6' || c == '7'
	case '7':
		return c != '9'
	case '9':
		return c != '4'
	}
	return false
}

// Mask hides the middle four digits of a number for logs and pages:
// "+8613800138000" → "138****8000". Input that is not an 11-digit number
// (with or without +86) is masked entirely, so a bug upstream can never
// leak a full number through Mask.
func Mask(e164 string) string {
	d := strings.TrimPrefix(e164, "+86")
	if len(d) != 11 {
		return "***********"
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return "***********"
		}
	}
	return d[:3] + "****" + d[7:]
}
