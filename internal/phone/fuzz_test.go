package phone_test

import (
	"errors"
	"regexp"
	"testing"

	"github.com/xszz/xszz/internal/phone"
)

var e164 = regexp.MustCompile(`^\+861(?:3\d|4[5-9]|5[0-35-9]|6[25-7]|7[0-8]|8\d|9[0-35-9])\d{8}$`)

// FuzzNormalize checks the properties the rest of the IdP relies on:
// whatever comes out is a valid +86 mobile number, normalising it again
// changes nothing, and every failure is an ErrInvalid with no output.
// Seeds live in testdata/fuzz/FuzzNormalize.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"13800138000", "+86 138-0013-8000", "008613800138000", "１３８００１３８０００"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := phone.Normalize(in)
		if err != nil {
			if !errors.Is(err, phone.ErrInvalid) || out != "" {
				t.Fatalf("Normalize(%q) = %q, %v", in, out, err)
			}
			return
		}
		if !e164.MatchString(out) {
			t.Fatalf("Normalize(%q) = %q: not a valid E.164 mainland mobile number", in, out)
		}
		again, err := phone.Normalize(out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: Normalize(%q) = %q, %v", out, again, err)
		}
		if m := phone.Mask(out); len(m) != 11 || m[3:7] != "****" {
			t.Fatalf("Mask(%q) = %q", out, m)
		}
	})
}
