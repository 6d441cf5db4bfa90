package org

import "context"

// PathRange returns the bounds of the materialised paths at or under id:
// other packages join their rows to orgs and filter with
// `orgs.path >= lo AND orgs.path < hi`, which the path index serves.
func (s *Store) PathRange(ctx context.Context, id string) (lo, hi string, err error) {
	p, err := getPath(ctx, s.db, id)
	if err != nil {
		return "", "", err
	}
	lo, hi = subtreeRange(p)
	return lo, hi, nil
}

// PathOf returns the materialised path of id, e.g. "/000000/320000/".
func (s *Store) PathOf(ctx context.Context, id string) (string, error) {
	return getPath(ctx, s.db, id)
}
