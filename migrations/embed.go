// Package migrations holds the SQL schema of xszz, one folder per dialect.
//
// Files are applied in lexical order and recorded in schema_migrations, so a
// file, once released, never changes: add a new one instead. Number ranges
// keep parallel work apart: 0001–0099 IdP core, 0100–0199 organisations,
// 0200–0299 accounts and audit, 0300–0399 office, 0400–0499 cockpit.
package migrations

import "embed"

// FS holds sqlite/*.sql and postgres/*.sql.
//
//go:embed sqlite/*.sql postgres/*.sql
var FS embed.FS
