package otp

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
)

// codeLimit is the largest multiple of 10^6 that fits in a uint32. Values
// at or above it are drawn again, so that taking the remainder modulo 10^6
// gives every code exactly the same probability (no modulo bias,
// SECURITY.md #48). A redraw happens with probability < 0.02%.
const codeLimit = 4294 * 1000000

// newCode returns a uniformly random 6-digit code, leading zeros kept.
func newCode() (string, error) {
	var b [4]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("otp: random code: %w", err)
		}
		if v := binary.BigEndian.Uint32(b[:]); v < codeLimit {
			return fmt.Sprintf("%06d", v%1000000), nil
		}
	}
}
