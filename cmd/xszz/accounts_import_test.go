package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/admin"
)

func TestAccountsImport(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be)
		sys.browser(t).get("/healthz") // the node is serving before the test may end
		ctx := context.Background()
		existing := sys.newAccount(t, func(a *account.Account) { a.OrgID = "320000" })
		p1, p2 := newPhone(), newPhone()
		file := "phone,name,org_id,role\n" +
			p1 + ",王小明,320000,staff\n" +
			"+86 " + p2 + ",阿依古丽·买买提,110000,admin\n" +
			existing.Phone + ",测试人员,320000,staff\n"

		rep, err := sys.app.importAccounts(ctx, strings.NewReader(file), true)
		if err != nil || rep.Created != 2 || rep.Unchanged != 1 {
			t.Fatalf("dry run: %+v, %v", rep, err)
		}
		if _, err := sys.app.Accounts.ByPhone(ctx, "+86"+p1); err == nil {
			t.Fatal("dry run wrote")
		}
		rep, err = sys.app.importAccounts(ctx, strings.NewReader(file), false)
		if err != nil || rep.Created != 2 || rep.Updated != 0 || rep.Unchanged != 1 || rep.Lines != 3 {
			t.Fatalf("import: %+v, %v", rep, err)
		}
		a2, err := sys.app.Accounts.ByPhone(ctx, "+86"+p2)
		if err != nil || a2.Name != "阿依古丽·买买提" || a2.Role != account.RoleAdmin || a2.OrgID != "110000" || a2.Status != account.StatusActive || a2.ActivatedAt != nil {
			t.Fatalf("imported account %+v, %v", a2, err)
		}
		// Idempotent.
		rep, err = sys.app.importAccounts(ctx, strings.NewReader(file), false)
		if err != nil || rep.Created != 0 || rep.Updated != 0 || rep.Unchanged != 3 {
			t.Fatalf("second import: %+v, %v", rep, err)
		}
		// Changes are applied, reordered columns are fine, role defaults to staff.
		changed := "org_id,phone,name,role\n320000," + p2 + ",阿依古丽·买买提,\n"
		rep, err = sys.app.importAccounts(ctx, strings.NewReader(changed), false)
		if err != nil || rep.Updated != 1 {
			t.Fatalf("update: %+v, %v", rep, err)
		}
		if a2, _ = sys.app.Accounts.ByPhone(ctx, "+86"+p2); a2.Role != account.RoleStaff || a2.OrgID != "320000" {
			t.Fatalf("updated account %+v", a2)
		}

		// Errors name their lines, and nothing is written.
		p3 := newPhone()
		bad := "phone,name,org_id,role\n" +
			p3 + ",李四,320000,staff\n" +
			"12345,张三,320000,staff\n" +
			newPhone() + ",张,320000,staff\n" +
			newPhone() + ",张三,999999,staff\n" +
			newPhone() + ",张三,320000,boss\n" +
			p3 + ",李四,320000,staff\n"
		rep, err = sys.app.importAccounts(ctx, strings.NewReader(bad), false)
		if !errors.Is(err, errImportInvalid) {
			t.Fatalf("bad file: %v", err)
		}
		want := []string{"line 3: phone", "line 4: name", "line 5: org_id", "line 6: role", "line 7: phone: same number as line 2"}
		if len(rep.Errors) != len(want) {
			t.Fatalf("errors %q, want %d", rep.Errors, len(want))
		}
		for i, w := range want {
			if !strings.HasPrefix(rep.Errors[i], w) {
				t.Fatalf("error %d = %q, want prefix %q", i, rep.Errors[i], w)
			}
		}
		if _, err := sys.app.Accounts.ByPhone(ctx, "+86"+p3); err == nil {
			t.Fatal("a file with errors was partly imported")
		}
		if _, errs := sys.app.readImport(ctx, strings.NewReader("mobile,name\n")); len(errs) != 1 || !strings.HasPrefix(errs[0], "line 1:") {
			t.Fatalf("bad header: %q", errs)
		}
	})
}

// runAudit runs `xszz audit ARGS` with a config file for env's database.
func runAudit(t *testing.T, env sharedEnv, args ...string) (string, error) {
	t.Helper()
	cfg := filepath.Join(env.dir, "cli.yaml")
	y := fmt.Sprintf("database:\n  url: %q\nidp:\n  secret: %q\nkeys:\n  encryption_key: %q\nlog:\n  level: error\n", env.dbURL, env.secret, env.encKey)
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := (&cli{configPath: cfg, out: &out, log: io.Discard}).auditCmd()
	cmd.SetOut(&out)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestAuditCommands(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		env := newSharedEnv(t, be)
		sys := startNode(t, env)
		p := sys.newAccount(t)
		b := sys.browser(t)
		b.smsLogin(p, "")

		out, err := runAudit(t, env, "verify")
		if err != nil || !strings.Contains(out, "audit chain intact") {
			t.Fatalf("verify: %q, %v", out, err)
		}
		out, err = runAudit(t, env, "export", "--type", "login.success")
		if err != nil {
			t.Fatalf("export: %v", err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		var e struct {
			Type      string `json:"type"`
			SubjectID string `json:"subject_id"`
		}
		if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &e) != nil || e.Type != "login.success" || e.SubjectID != p.ID {
			t.Fatalf("jsonl export: %q", out)
		}
		out, err = runAudit(t, env, "export", "--format", "csv", "--since", "2000-01-01")
		if err != nil || !strings.HasPrefix(out, "seq,time,type,") || strings.Contains(out, p.E164) {
			t.Fatalf("csv export: %q, %v", out, err)
		}
		if _, err := runAudit(t, env, "export", "--format", "xml"); err == nil {
			t.Fatal("unknown format accepted")
		}

		// An edited row is caught (the append-only triggers are dropped, as
		// a database owner could).
		off := []string{`DROP TRIGGER audit_log_no_update`}
		if be == postgresBackend {
			off = []string{`ALTER TABLE audit_log DISABLE TRIGGER USER`}
		}
		for _, q := range off {
			if _, err := sys.app.DB.ExecContext(context.Background(), q); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := sys.app.DB.ExecContext(context.Background(), `UPDATE audit_log SET result = 'failure' WHERE type = 'login.success'`); err != nil {
			t.Fatal(err)
		}
		out, err = runAudit(t, env, "verify")
		if err == nil || !strings.Contains(out, "BROKEN") {
			t.Fatalf("verify of an edited log: %q, %v", out, err)
		}
	})
}

// `xszz accounts disable` goes through the admin service: the disable is
// audited with it, and only the command line lifts it.
func TestCLIDisableIsTheOperatorsToLift(t *testing.T) {
	forEachBackend(t, func(t *testing.T, be backend) {
		sys := startSystem(t, be)
		sys.browser(t).get("/healthz") // the node is serving before the test may end
		ctx := context.Background()
		p := sys.newAccount(t, func(a *account.Account) { a.OrgID = "320000" })
		root, err := sys.app.Admin.Provision(ctx, admin.Actor{System: true}, newPhone(), "部管理员", "000000", account.RoleAdmin)
		if err != nil {
			t.Fatal(err)
		}
		acc, err := sys.app.disableAccount(ctx, p.ID)
		if err != nil || acc.Status != account.StatusDisabled || acc.DisabledBy != account.DisabledBySystem {
			t.Fatalf("CLI disable: %+v, %v", acc, err)
		}
		if _, err := sys.app.Admin.Enable(ctx, admin.Actor{Account: root}, p.ID); !errors.Is(err, admin.ErrForbidden) {
			t.Fatalf("the ministry admin lifted the operator's disable: %v", err)
		}
		var n int
		if err := sys.app.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_log WHERE type = 'account.disabled' AND subject_id = $1 AND actor_id = 'cli'`, p.ID).Scan(&n); err != nil || n != 1 {
			t.Fatalf("audit events of the CLI disable: %d, %v", n, err)
		}
		if acc, err := sys.app.Admin.Enable(ctx, admin.Actor{System: true}, p.ID); err != nil || !acc.Active() {
			t.Fatalf("CLI enable: %+v, %v", acc, err)
		}
	})
}
