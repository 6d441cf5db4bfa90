// Package cursor makes the opaque cursors of keyset-paged lists (the
// office's contacts, the IdP's phone-conflict queue). A cursor carries a
// position in a list's order — the sort key of the last row a page showed
// — authenticated with a key of that list and bound to a scope (who asked,
// and for what), so it is good only for the query that produced it: a
// cursor that was altered, made up, or taken from another person's or
// another query's page is refused, never interpreted.
//
// A cursor is not encrypted. It holds only what the page before it
// showed to the same person.
package cursor

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrInvalid is returned for a cursor that this codec did not make for
// this scope, or that does not decode into the position asked for.
var ErrInvalid = errors.New("invalid cursor")

// MaxLen is the longest cursor Decode looks at; a real one is far
// shorter.
const MaxLen = 1024

const tagLen = 16

// Codec makes and checks the cursors of one list.
type Codec struct{ key []byte }

// New derives the codec of the named list from a secret of at least 32
// bytes, the same on every replica: lists never accept each other's
// cursors, and a new secret retires every cursor (a client starts again
// from the first page).
func New(secret []byte, list string) (*Codec, error) {
	if len(secret) < 32 {
		return nil, errors.New("cursor: secret must be at least 32 bytes")
	}
	if list == "" {
		return nil, errors.New("cursor: a list name is required")
	}
	key, err := hkdf.Key(sha256.New, secret, nil, "xszz cursor "+list+" v1", 32)
	if err != nil {
		return nil, fmt.Errorf("cursor %s: derive key: %w", list, err)
	}
	return &Codec{key: key}, nil
}

// Encode returns the cursor of pos (a value encoding/json marshals)
// within scope.
func (c *Codec) Encode(pos any, scope ...string) (string, error) {
	body, err := json.Marshal(pos)
	if err != nil {
		return "", fmt.Errorf("encode cursor: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(append(body, c.tag(body, scope)...)), nil
}

// Decode checks a cursor made by Encode with the same scope and reads its
// position into pos (a pointer). Anything else is ErrInvalid, unknown
// fields included.
func (c *Codec) Decode(s string, pos any, scope ...string) error {
	if len(s) > MaxLen {
		return ErrInvalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) <= tagLen {
		return ErrInvalid
	}
	body, tag := raw[:len(raw)-tagLen], raw[len(raw)-tagLen:]
	if !hmac.Equal(tag, c.tag(body, scope)) {
		return ErrInvalid
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(pos); err != nil || dec.More() {
		return ErrInvalid
	}
	return nil
}

// tag authenticates the body under the scope; each part is length
// prefixed, so no two scopes share an encoding.
func (c *Codec) tag(body []byte, scope []string) []byte {
	m := hmac.New(sha256.New, c.key)
	var n [binary.MaxVarintLen64]byte
	for _, part := range scope {
		m.Write(n[:binary.PutUvarint(n[:], uint64(len(part)))])
		m.Write([]byte(part))
	}
	m.Write(n[:binary.PutUvarint(n[:], uint64(len(body)))])
	m.Write(body)
	return m.Sum(nil)[:tagLen]
}
