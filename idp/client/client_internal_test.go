package client

import "testing"

// A client id is typed on the command line; one starting with '-' would
// read as a flag. A 64th of random ids would.
func TestNewIDsNeverLookLikeAFlag(t *testing.T) {
	for range 5000 {
		if id := newID(); id[0] == '-' || len(id) != 22 {
			t.Fatalf("id %q", id)
		}
	}
}
