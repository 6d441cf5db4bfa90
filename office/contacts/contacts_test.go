package contacts_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/internal/web"
	"github.com/xszz/xszz/office/contacts"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/officetest"
)

func status(err error) int {
	var we *web.Error
	switch {
	case err == nil:
		return 200
	case errors.As(err, &we):
		return we.Status
	}
	return 500
}

func TestContacts(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		tr := officetest.Build(t, db)
		dir := directory.NewStore(db)
		s := &contacts.Service{Dir: dir, Now: func() time.Time { return time.Unix(1_800_000_000, 0) }}
		county := tr.Admin("110101")

		all, _, err := s.List(ctx, county, contacts.Query{})
		if err != nil || len(all) != 10 {
			t.Fatalf("county subtree: %d people (%v), want 10 (5 units × 2)", len(all), err)
		}
		for _, e := range all {
			if !strings.Contains(e.Phone, "****") || !e.CanReveal {
				t.Errorf("%s: phone %q can reveal %v", e.Name, e.Phone, e.CanReveal)
			}
		}
		// Pages of 3 cover everyone once; the last says so.
		seen := map[string]bool{}
		var after *directory.Position
		for pages := 1; ; pages++ {
			page, next, err := s.List(ctx, county, contacts.Query{After: after, Limit: 3})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page {
				if seen[e.ID] {
					t.Fatalf("%s twice", e.ID)
				}
				seen[e.ID] = true
			}
			if next == nil {
				if pages != 4 || len(page) != 1 {
					t.Errorf("last page is page %d with %d people, want page 4 with 1", pages, len(page))
				}
				break
			}
			after = next
		}
		if len(seen) != 10 {
			t.Errorf("paged through %d, want 10", len(seen))
		}

		staff := tr.Staff("S01")
		full, err := dir.Person(ctx, staff.Sub)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			text string
			want []string
		}{
			{"甲一", []string{"p-S01-admin", "p-S01-staff", "p-S01D1-admin", "p-S01D1-staff", "p-S01D2-admin", "p-S01D2-staff", "p-110101-admin", "p-110101-staff"}}, // name prefix and unit name
			{"初中部", []string{"p-S01D1-admin", "p-S01D1-staff"}},
			{strings.TrimPrefix(full.Phone, "+86"), []string{staff.Sub}},
			{"乙市", nil}, // outside the subtree
			{"%", nil},
		} {
			got, _, err := s.List(ctx, county, contacts.Query{Text: c.text})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range got {
				ids = append(ids, e.ID)
			}
			if strings.Join(sortStrings(ids), ",") != strings.Join(sortStrings(c.want), ",") {
				t.Errorf("search %q = %v, want %v", c.text, ids, c.want)
			}
		}

		if _, _, err := s.List(ctx, county, contacts.Query{OrgID: "110102"}); status(err) != http.StatusNotFound {
			t.Errorf("a sibling's unit: %v", err)
		}
		if p, err := s.Reveal(ctx, county, staff.Sub); err != nil || p != full.Phone {
			t.Errorf("reveal = %q %v", p, err)
		}
		if n, err := dir.Reveals(ctx, staff.Sub); err != nil || n != 1 {
			t.Errorf("recorded reveals %d %v", n, err)
		}
		if _, err := s.Reveal(ctx, tr.Staff("110101"), staff.Sub); status(err) != http.StatusForbidden {
			t.Errorf("staff revealing: %v", err)
		}
		if _, err := s.Reveal(ctx, tr.Admin("S01D1"), staff.Sub); status(err) != http.StatusNotFound {
			t.Errorf("a unit below revealing: %v", err)
		}
		// A person who shows their number shows it to all who see them.
		if err := dir.SetShowPhone(ctx, staff.Sub, true); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := s.List(ctx, tr.Staff("S01"), contacts.Query{Text: "甲一中学"}); !containsPhone(got, full.Phone) {
			t.Errorf("shown number not in the list: %+v", got)
		}
		// Contact points above: the admins of every unit up to the centre.
		above, err := s.Above(ctx, staff)
		if err != nil || len(above) != 4 || above[0].Unit.ID != "000000" || len(above[3].People) != 1 {
			t.Errorf("above = %+v %v", above, err)
		}
		var buf bytes.Buffer
		if err := s.WriteCSV(ctx, tr.Staff("110101"), &buf); status(err) != http.StatusForbidden {
			t.Errorf("staff export: %v", err)
		}
		if err := s.WriteCSV(ctx, county, &buf); err != nil || strings.Count(buf.String(), "\n") != 11 {
			t.Errorf("export: %v\n%s", err, buf.String())
		}
	})
}

func containsPhone(es []contacts.Entry, p string) bool {
	for _, e := range es {
		if e.Phone == p {
			return true
		}
	}
	return false
}

func sortStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
