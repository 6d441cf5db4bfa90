package activity

// The queries whose plans plan_test.go checks.
const (
	GapQuery       = gapQuery
	ChildrenQuery  = childrenQuery
	OffRosterQuery = offRosterQuery
)
