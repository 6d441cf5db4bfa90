package idp

import (
	"encoding/json"
	"errors"
	"io"
)

// decodeStrict reads exactly one JSON object.
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after JSON object")
	}
	return nil
}
