package console_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

// The audit page shows events of the admin's subtree and nothing beside it.
func TestConsoleAuditPageStaysInTheSubtree(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		v := newEnv(t, db)
		ctx := context.Background()
		for key, path := range map[string]string{
			"staffNJ": "/000000/320000/320100/",
			"staffZJ": "/000000/330000/",
		} {
			err := v.audit.Record(ctx, audit.Event{Type: "login.success", Result: audit.Success, ActorID: v.id(key), SubjectID: v.id(key), OrgPath: path})
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			admin      string
			sees, hide string
		}{
			{"adminJS", "staffNJ", "staffZJ"},
			{"adminZJ", "staffZJ", "staffNJ"},
		} {
			rec := v.signIn(tc.admin).get("/admin/audit?type=login.success")
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: audit page %d", tc.admin, rec.Code)
			}
			body := rec.Body.String()
			if !strings.Contains(body, v.id(tc.sees)) {
				t.Errorf("%s does not see the sign-in of %s", tc.admin, tc.sees)
			}
			if strings.Contains(body, v.id(tc.hide)) {
				t.Errorf("%s sees the sign-in of %s, outside the subtree", tc.admin, tc.hide)
			}
		}
		if rec := v.signIn("adminJS").get("/admin/audit?before=x"); rec.Code != http.StatusBadRequest {
			t.Fatalf("bad paging parameter: %d", rec.Code)
		}
	})
}
