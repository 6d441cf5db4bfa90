package activity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"
)

// CodeStep is how long a sign-in code is shown.
const CodeStep = 30 * time.Second

// Code returns the six-digit sign-in code of a time step: an HMAC of the
// activity's secret and the step number (RFC 4226's dynamic truncation
// over SHA-256), so any replica derives the same code and nothing is
// stored per step.
func Code(secret []byte, step int64) string {
	m := hmac.New(sha256.New, secret)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(step))
	m.Write(b[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000)
}

// Step is the time step of t.
func Step(t time.Time) int64 { return t.Unix() / int64(CodeStep/time.Second) }

// CheckCode accepts the code of the current step or the previous one, so
// a code read off the screen just before it rotated still works.
func CheckCode(secret []byte, code string, now time.Time) bool {
	s := Step(now)
	ok := false
	for _, st := range []int64{s, s - 1} {
		if hmac.Equal([]byte(Code(secret, st)), []byte(code)) {
			ok = true
		}
	}
	return ok
}
