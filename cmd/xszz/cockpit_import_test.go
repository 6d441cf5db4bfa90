package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// xszz cockpit import reads the files from disk as streams, in
// dependency order, and names a file it cannot read or refuses.
func TestCockpitImportFromFiles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		env := newSharedEnv(t, be)
		dir := t.TempDir()
		file := func(name, body string) string {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}
		students := file("students.csv", "anon_id,region_code,school_code,stage\nS-1,510104,4151010001,bachelor\nS-2,510104,4151010001,bachelor\n")
		schools := file("schools.csv", "\ufeffschool_code,region_code,name\n4151010001,510104,锦江某大学\n")
		out, err := runCLI(t, env, (*cli).cockpitCmd, "import", students, schools)
		if err != nil || !strings.Contains(out, "schools: 1 rows imported\nstudents: 2 rows imported") {
			t.Fatalf("import: %v\n%s", err, out)
		}
		aid := file("aid.csv", "anon_id,year,programme,source,amount,paid_on\nS-1,2025,he_grant,central,3700,2025-10-15\nS-3,2025,he_grant,central,3700,2025-10-15\n")
		if _, err := runCLI(t, env, (*cli).cockpitCmd, "import", aid); err == nil || !strings.Contains(err.Error(), `line 3, anon_id: "S-3" is no student imported before`) {
			t.Errorf("a bad file: %v", err)
		}
		missing := filepath.Join(dir, "nonesuch.csv")
		if _, err := runCLI(t, env, (*cli).cockpitCmd, "import", missing); err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("a missing file: %v", err)
		}
	})
}
