package seal_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/xszz/xszz/internal/seal"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestSealedValuesOpenOnlyForTheirRowAndKey(t *testing.T) {
	s, err := seal.New("xszz-phone", "k2", key(2), key(9), map[string][]byte{"k1": key(1)})
	if err != nil {
		t.Fatal(err)
	}
	ct, kid := s.Seal("row-1", "+8613800138000")
	if kid != "k2" || bytes.Contains(ct, []byte("13800138000")) {
		t.Fatalf("sealed under %q: %x", kid, ct)
	}
	if got, err := s.Open("row-1", kid, ct); err != nil || got != "+8613800138000" {
		t.Fatalf("open: %q, %v", got, err)
	}
	if _, err := s.Open("row-2", kid, ct); err == nil {
		t.Fatal("a ciphertext moved to another row opened")
	}

	old, _ := seal.New("xszz-phone", "k1", key(1), key(9), nil)
	ct1, _ := old.Seal("row-1", "+8613900000001")
	if got, err := s.Open("row-1", "k1", ct1); err != nil || got != "+8613900000001" {
		t.Fatalf("a row sealed before the rotation: %q, %v", got, err)
	}
	if _, err := s.Open("row-1", "k0", ct1); err == nil || !strings.Contains(err.Error(), "not configured") {
		t.Fatalf("unknown key id: %v", err)
	}

	other, _ := seal.New("xszz-idcard", "k2", key(2), key(9), nil)
	if s.Index("x") == other.Index("x") {
		t.Fatal("two kinds of datum share an index space")
	}
	if s.Index("x") != old.Index("x") {
		t.Fatal("the index changed with the encryption key")
	}
}
