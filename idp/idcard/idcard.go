// Package idcard checks, protects and displays resident ID numbers
// (公民身份号码, GB 11643-1999): 18 characters, a birth date and an
// ISO 7064 MOD 11-2 check character.
//
// The number is sensitive personal data (PIPL Art. 28, GB/T 35273 App. B):
// it is stored only AES-256-GCM encrypted (Sealer.Seal, with the key id
// kept beside it for rotation), looked up only through a keyed HMAC blind
// index (Sealer.Index), and shown only masked (Mask).
package idcard

import (
	"errors"
	"strings"
	"time"

	"github.com/xszz/xszz/internal/seal"
)

// ErrInvalid is any malformed number; UserMessage says it in Chinese.
var ErrInvalid = errors.New("idcard: invalid resident ID number")

// UserMessage is shown for ErrInvalid.
const UserMessage = "身份证号码格式不正确，请核对 18 位号码（含末位校验码）"

var weights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const checkChars = "10X98765432"

// Check returns the check character of the first 17 digits.
func Check(body string) byte {
	sum := 0
	for i := range 17 {
		sum += int(body[i]-'0') * weights[i]
	}
	return checkChars[sum%11]
}

// provinces are the first two digits of GB/T 2260 codes in use (including
// 71 Taiwan, 81 Hong Kong, 82 Macao, which appear on residence permits).
var provinces = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true,
	"21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true,
	"50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true,
	"71": true, "81": true, "82": true,
}

// Normalize checks a number as typed and returns it in canonical form
// (trimmed, check character 'X' upper-case). It checks the length, the
// digits, the province part of the address code, that the birth date is a
// real calendar date between 1850 and now (the standard's own Annex A example was born in 1880), and the check character. The
// full county code is not checked: retired codes stay valid on old cards.
func Normalize(raw string, now time.Time) (string, error) {
	s := strings.ToUpper(strings.TrimSpace(raw))
	if len(s) != 18 {
		return "", ErrInvalid
	}
	for i := range 17 {
		if s[i] < '0' || s[i] > '9' {
			return "", ErrInvalid
		}
	}
	if !provinces[s[:2]] || s[2:6] == "0000" {
		return "", ErrInvalid
	}
	birth, err := time.Parse("20060102", s[6:14])
	if err != nil || birth.Year() < 1850 || birth.After(now) {
		return "", ErrInvalid
	}
	if s[17] != Check(s) {
		return "", ErrInvalid
	}
	return s, nil
}

// Mask shows the first four and last four characters: 3201**********1234.
func Mask(n string) string {
	if len(n) != 18 {
		return strings.Repeat("*", len(n))
	}
	return n[:4] + strings.Repeat("*", 10) + n[14:]
}

// Sealer encrypts resident ID numbers and computes their blind index
// (internal/seal); the account id is the additional data.
type Sealer = seal.Sealer

// NewSealer returns the resident ID numbers' Sealer, encrypting with key
// (32 bytes) under keyID; old keys, by id, are for reading rows written
// before a rotation. indexKey keys the blind index: it must never change
// without recomputing every stored index.
func NewSealer(keyID string, key, indexKey []byte, old map[string][]byte) (*Sealer, error) {
	return seal.New("xszz-idcard", keyID, key, indexKey, old)
}
