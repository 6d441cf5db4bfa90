package org

// Queries whose plans plan_test.go checks.
const (
	SubtreeQuery = subtreeQuery
	CountQuery   = countQuery
	PathQuery    = pathQuery
)
