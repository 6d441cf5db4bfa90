package phone_test

import (
	"errors"
	"regexp"
	"testing"

	"github.com/xszz/xszz/internal/phone"
)

func TestNormalize(t *testing.T) {
	const want = "+8613800138000"
	tests := []struct {
		name string
		in   string
		want string
		err  phone.Reason
	}{
		{"bare", "13800138000", want, ""},
		{"e164", "+8613800138000", want, ""},
		{"0086", "008613800138000", want, ""},
		{"86 without plus", "8613800138000", want, ""},
		{"spaces and hyphens", " +86 138-0013-8000 ", want, ""},
		{"space after plus", "+ 86 13800138000", want, ""},
		{"full-width digits", "１３８００１３８０００", want, ""},
		{"full-width plus and ideographic space", "＋８６\u3000138－0013－8000", want, ""},
		{"MVNO 170", "17012345678", "+8617012345678", ""},
		{"199", "19912345678", "+8619912345678", ""},
		{"satellite 1349 lies inside 134", "13492345678", "+8613492345678", ""},

		{"empty", "", "", phone.ReasonEmpty},
		{"only separators", " - ", "", phone.ReasonEmpty},
		{"12 digits", "138001380001", "", phone.ReasonLength},
		{"10 digits", "1380013800", "", phone.ReasonLength},
		{"86 plus 12 digits", "86138001380001", "", phone.ReasonLength},
		{"domestic trunk zero", "013800138000", "", phone.ReasonLength},
		{"US number", "+12025550123", "", phone.ReasonCountry},
		{"Hong Kong 00852", "0085291234567", "", phone.ReasonCountry},
		{"Macau +853", "+85366123456", "", phone.ReasonCountry},
		{"zero-width space", "138\u200b00138000", "", phone.ReasonCharacter},
		{"zero-width joiner", "13800138000\u200d", "", phone.ReasonCharacter},
		{"BOM", "\ufeff13800138000", "", phone.ReasonCharacter},
		{"CRLF", "13800138000\r\n", "", phone.ReasonCharacter},
		{"LF injection", "13800138000\nX-Evil: 1", "", phone.ReasonCharacter},
		{"tab", "138\t00138000", "", phone.ReasonCharacter},
		{"letters", "1380013800O", "", phone.ReasonCharacter},
		{"superscript one is not a digit", "¹3800138000", "", phone.ReasonCharacter},
		{"arabic-indic digits", "١٣٨٠٠١٣٨٠٠٠", "", phone.ReasonCharacter},
		{"plus in the middle", "86+13800138000", "", phone.ReasonCharacter},
		{"two plus signs", "++8613800138000", "", phone.ReasonCharacter},
		{"parentheses", "(+86)13800138000", "", phone.ReasonCharacter},
		{"too long", "1380013800013800138000138001380001380013800138000138001380001380000", "", phone.ReasonTooLong},
		{"unallocated 154", "15412345678", "", phone.ReasonPrefix},
		{"unallocated 179", "17912345678", "", phone.ReasonPrefix},
		{"unallocated 194", "19412345678", "", phone.ReasonPrefix},
		{"unallocated 160", "16012345678", "", phone.ReasonPrefix},
		{"IoT 140", "14012345678", "", phone.ReasonPrefix},
		{"service 12x", "12345678901", "", phone.ReasonPrefix},
		{"landline", "02112345678", "", phone.ReasonPrefix},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := phone.Normalize(tt.in)
			if tt.err == "" {
				if err != nil || got != tt.want {
					t.Fatalf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			var ie *phone.InvalidError
			if !errors.As(err, &ie) || ie.Reason != tt.err || !errors.Is(err, phone.ErrInvalid) || got != "" {
				t.Fatalf("Normalize(%q) = %q, %v; want reason %q", tt.in, got, err, tt.err)
			}
		})
	}
}

// Every three-digit network code in mobile_prefixes.md's table, and only
// those, is accepted.
func TestNormalizeAllocatedPrefixes(t *testing.T) {
	strict := regexp.MustCompile(`^1(?:3\d|4[5-9]|5[0-35-9]|6[25-7]|7[0-8]|8\d|9[0-35-9])\d{8}$`)
	accepted := 0
	for p := 100; p < 200; p++ {
		n := itoa3(p) + "12345678"
		_, err := phone.Normalize(n)
		if (err == nil) != strict.MatchString(n) {
			t.Errorf("prefix %d: err=%v, regex=%v", p, err, strict.MatchString(n))
		}
		if err == nil {
			accepted++
		}
	}
	if accepted != 56 {
		t.Errorf("accepted %d prefixes, the MIIT table has 56", accepted)
	}
}

func itoa3(p int) string {
	return string([]byte{byte('0' + p/100), byte('0' + p/10%10), byte('0' + p%10)})
}

func TestErrorDoesNotLeakInput(t *testing.T) {
	_, err := phone.Normalize("+12025550123")
	if err == nil || regexp.MustCompile(`\d{4}`).MatchString(err.Error()) {
		t.Fatalf("error %v should not contain the number", err)
	}
}

func TestMask(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+8613800138000", "138****8000"},
		{"13800138000", "138****8000"},
		{"+861380013800", "***********"},
		{"+12025550123", "***********"},
		{"", "***********"},
		{"+86138001380ab", "***********"},
	}
	for _, tt := range tests {
		if got := phone.Mask(tt.in); got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
