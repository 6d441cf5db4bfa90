package otp

import (
	"math"
	"regexp"
	"testing"
)

func TestCodeLimitRemovesModuloBias(t *testing.T) {
	if codeLimit%1000000 != 0 || codeLimit > math.MaxUint32 || codeLimit+1000000 <= math.MaxUint32 {
		t.Fatalf("codeLimit %d must be the largest multiple of 10^6 below 2^32", codeLimit)
	}
}

func TestCodeDistribution(t *testing.T) {
	const n = 100000
	six := regexp.MustCompile(`^[0-9]{6}$`)
	var perPos [6][10]int
	leadingZero := 0
	for i := 0; i < n; i++ {
		c, err := newCode()
		if err != nil {
			t.Fatal(err)
		}
		if !six.MatchString(c) {
			t.Fatalf("code %q is not 6 digits", c)
		}
		if c[0] == '0' {
			leadingZero++
		}
		for p := 0; p < 6; p++ {
			perPos[p][c[p]-'0']++
		}
	}
	// Each digit should appear n/10 = 10000 times per position; the
	// standard deviation is about 95, so ±600 only fails on real bias.
	for p, counts := range perPos {
		for d, got := range counts {
			if got < 9400 || got > 10600 {
				t.Errorf("digit %d at position %d: %d times, want about 10000", d, p, got)
			}
		}
	}
	if leadingZero < 9400 {
		t.Errorf("only %d codes with a leading zero: zeros are being dropped", leadingZero)
	}
}
