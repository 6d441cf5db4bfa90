package idcard_test

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/xszz/xszz/idp/idcard"
)

var now = time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)

// TestVectors runs every line of testdata/idcard_vectors.txt (a copy of
// ../shared/data/idcard_vectors.txt): "NUMBER valid|invalid # why".
func TestVectors(t *testing.T) {
	f, err := os.Open("testdata/idcard_vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 || (fields[1] != "valid" && fields[1] != "invalid") {
			continue
		}
		n++
		number, want := fields[0], fields[1] == "valid"
		why := ""
		if _, c, ok := strings.Cut(line, "#"); ok {
			why = strings.TrimSpace(c)
		}
		t.Run(number, func(t *testing.T) {
			got, err := idcard.Normalize(number, now)
			if want && (err != nil || got != number) {
				t.Fatalf("Normalize(%s) = %q, %v; want valid (%s)", number, got, err, why)
			}
			if !want && !errors.Is(err, idcard.ErrInvalid) {
				t.Fatalf("Normalize(%s) = %q, %v; want ErrInvalid (%s)", number, got, err, why)
			}
		})
	}
	if n < 10 {
		t.Fatalf("only %d vectors read", n)
	}
	// Annex B worked example: body 34052419800101001 → check 'X'.
	if c := idcard.Check("34052419800101001"); c != 'X' {
		t.Fatalf("Check(Annex B) = %c, want X", c)
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"lower-case x and spaces accepted", " 46900220130219112x ", "46900220130219112X"},
		{"future birth date (check digit right)", "110108203001010019", ""},
		{"born before 1850 (check digit right)", "110108184912310011", ""},
		{"letters in the body", "11010820120101063A", ""},
		{"full-width digits", "１１０１０８２０１２０１０１０６３９", ""},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := idcard.Normalize(tc.in, now)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("Normalize(%q) = %q, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestMask(t *testing.T) {
	if got := idcard.Mask("320102199001011234"); got != "3201**********1234" {
		t.Fatalf("Mask = %q", got)
	}
	if got := idcard.Mask("123"); got != "***" {
		t.Fatalf("Mask(short) = %q", got)
	}
}

func TestSealer(t *testing.T) {
	key, idx := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	s, err := idcard.NewSealer("k1", key, idx, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = "420111200803170417"
	sealed, kid := s.Seal("acct-1", n)
	if kid != "k1" || bytes.Contains(sealed, []byte(n)) {
		t.Fatalf("key id %q or number in the clear", kid)
	}
	if got, err := s.Open("acct-1", kid, sealed); err != nil || got != n {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := s.Open("acct-2", kid, sealed); err == nil {
		t.Fatal("a ciphertext moved to another account opened")
	}
	if s.Index(n) != s.Index(n) || s.Index(n) == s.Index("620502200611221358") {
		t.Fatal("index not deterministic or not distinct")
	}
	// After a rotation the old rows still open, and the index is unchanged.
	r, err := idcard.NewSealer("k2", bytes.Repeat([]byte{3}, 32), idx, map[string][]byte{"k1": key})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.Open("acct-1", kid, sealed); err != nil || got != n {
		t.Fatalf("Open after rotation = %q, %v", got, err)
	}
	if r.Index(n) != s.Index(n) {
		t.Fatal("index changed with the encryption key")
	}
	if _, kid := r.Seal("acct-1", n); kid != "k2" {
		t.Fatalf("new rows sealed with %q, want k2", kid)
	}
}
