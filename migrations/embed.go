// Package migrations holds the SQL schema of each part of xszz — the IdP,
// the office system and the cockpit — in a folder per part and, inside it,
// a folder per dialect (sqlite/, postgres/).
//
// Each part has its own record of what was applied (sqldb.Schema), so a
// part can run alone on its own database and file numbers of one part never
// interleave with another's. A file, once released, never changes: add a
// new one instead.
package migrations

import (
	"embed"
	"io/fs"

	"github.com/xszz/xszz/internal/sqldb"
)

//go:embed idp office cockpit
var files embed.FS

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // the folders are embedded above; fs.Sub fails only on a bad name
	}
	return f
}

var (
	// IdP is the identity provider's schema. Before each part had its own
	// record, its files were recorded in schema_migrations; they are
	// adopted from there on the first run.
	IdP = sqldb.Schema{Name: "idp", Files: sub("idp"), Legacy: "schema_migrations"}
	// Office is the office system's schema.
	Office = sqldb.Schema{Name: "office", Files: sub("office")}
	// Cockpit is the data cockpit's schema.
	Cockpit = sqldb.Schema{Name: "cockpit", Files: sub("cockpit")}
)

// All lists every part's schema, for a database shared by the whole
// system (xszz serve on embedded defaults) and for tests.
func All() []sqldb.Schema { return []sqldb.Schema{IdP, Office, Cockpit} }
