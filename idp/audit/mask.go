package audit

import (
	"regexp"
	"strings"
)

// MaskPhone hides the middle four digits of a mainland mobile number for the
// audit log: "+8613800138000" and "138 0013 8000" become "138****8000". A
// value already masked that way is returned as is. Anything else is masked
// entirely, so a caller's bug can never leak a full number through it.
func MaskPhone(phone string) string {
	d := strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(phone))
	d = strings.TrimPrefix(d, "+86")
	if len(d) == 13 && strings.HasPrefix(d, "86") {
		d = d[2:]
	}
	if len(d) != 11 {
		return "***********"
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		if i >= 3 && i < 7 {
			if c != '*' && (c < '0' || c > '9') {
				return "***********"
			}
			continue
		}
		if c < '0' || c > '9' {
			return "***********"
		}
	}
	return d[:3] + "****" + d[7:]
}

// A mainland mobile number not glued to other digits, with or without +86.
var phoneInText = regexp.MustCompile(`(^|[^0-9])((?:\+?86[ -]?)?1[3-9][0-9]{9})($|[^0-9])`)

func maskPhonesIn(s string) string {
	if !strings.ContainsAny(s, "0123456789") {
		return s
	}
	// Run twice: adjacent numbers share a separator, which the first pass
	// consumes.
	for range 2 {
		s = phoneInText.ReplaceAllStringFunc(s, func(m string) string {
			sub := phoneInText.FindStringSubmatch(m)
			return sub[1] + MaskPhone(sub[2]) + sub[3]
		})
	}
	return s
}

// Redacted replaces a Detail value whose key names a secret.
const Redacted = "[redacted]"

func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"otp", "token", "secret", "password", "passwd", "passcode", "cookie", "authorization"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return k == "code" || strings.HasSuffix(k, "_code") && k != "error_code" && k != "region_code"
}

func scrubValue(key, v string) string {
	switch k := strings.ToLower(key); {
	case secretKey(k):
		return Redacted
	case strings.Contains(k, "phone") || strings.Contains(k, "mobile"):
		if v == "" {
			return v
		}
		return MaskPhone(v)
	default:
		return maskPhonesIn(v)
	}
}
