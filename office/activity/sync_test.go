package activity_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/office/activity"
	"github.com/xszz/xszz/office/directory"
)

// scimServer serves units and people as the IdP's SCIM directory does:
// ordered by lastModified, filtered by "meta.lastModified ge", in pages.
type scimServer struct {
	mu     sync.Mutex
	groups []map[string]any
	users  []map[string]any
}

func (s *scimServer) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.users
	if strings.HasSuffix(r.URL.Path, "/Groups") {
		list = s.groups
	}
	since := ""
	if f := r.URL.Query().Get("filter"); f != "" {
		since = strings.Trim(strings.TrimPrefix(f, "meta.lastModified ge "), `"`)
	}
	var match []map[string]any
	for _, res := range list {
		if lm := res["meta"].(map[string]any)["lastModified"].(string); lm >= since {
			match = append(match, res)
		}
	}
	sort.SliceStable(match, func(i, j int) bool {
		return match[i]["meta"].(map[string]any)["lastModified"].(string) < match[j]["meta"].(map[string]any)["lastModified"].(string)
	})
	start, _ := strconv.Atoi(r.URL.Query().Get("startIndex"))
	count, _ := strconv.Atoi(r.URL.Query().Get("count"))
	page := match[min(start-1, len(match)):min(start-1+count, len(match))]
	_ = json.NewEncoder(rw).Encode(map[string]any{"totalResults": len(match), "itemsPerPage": len(page), "Resources": page})
}

func scimGroup(u directory.Unit, at time.Time) map[string]any {
	return map[string]any{"id": u.ID, "displayName": u.Name, "meta": map[string]any{"lastModified": at.Format(time.RFC3339)},
		"urn:xszz:params:scim:schemas:extension:org:2.0:Group": map[string]any{"parent": u.ParentID, "level": u.Level, "path": u.Path, "kind": "regular", "active": true}}
}

func scimUser(p directory.Person, at time.Time) map[string]any {
	return map[string]any{"id": p.ID, "displayName": p.Name, "active": p.Active, "roles": []map[string]any{{"value": p.Role}},
		"meta": map[string]any{"lastModified": at.Format(time.RFC3339)},
		"urn:xszz:params:scim:schemas:extension:org:2.0:User": map[string]any{"orgId": p.OrgID, "orgPath": p.OrgPath}}
}

// The office's sync carries roster changes into the counters, a page per
// transaction: a unit moving with its people, someone new, someone
// disabled. A page it cannot apply stops the sync with the counters as
// the pages before it left them, and the mark stays for the next try.
func TestTheSyncMovesTheCounters(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		w := newWorld(t, db)
		a := must(w.s.Create(w.ctx, w.tr.Admin("110101"), training(w.c.t.Add(time.Hour))))
		d1 := w.tr.Staff("S01D1")
		must(w.s.Register(w.ctx, d1, a.ID))

		t0, t1 := w.c.t.Add(-time.Hour), w.c.t
		srv := &scimServer{}
		for _, u := range w.tr.Units {
			if u.ID == "S02" {
				u.ParentID, u.Path = "110102", w.tr.Units["110102"].Path+"S02/"
				srv.groups = append(srv.groups, scimGroup(u, t1))
				continue
			}
			srv.groups = append(srv.groups, scimGroup(u, t0))
		}
		for _, v := range w.tr.People {
			p := w.person(v.Sub)
			switch {
			case p.ID == d1.Sub:
				p.Active = false
				srv.users = append(srv.users, scimUser(p, t1))
			case p.OrgID == "S02":
				p.OrgPath = w.tr.Units["110102"].Path + "S02/"
				srv.users = append(srv.users, scimUser(p, t0)) // the IdP leaves them unmarked
			default:
				srv.users = append(srv.users, scimUser(p, t0))
			}
		}
		srv.users = append(srv.users, scimUser(directory.Person{ID: "p-new", Name: "新人", OrgID: "S01", OrgPath: w.tr.Units["S01"].Path, Role: "staff", Active: true}, t1))
		hs := httptest.NewServer(srv)
		defer hs.Close()
		y := &directory.Syncer{Store: w.dir, Base: hs.URL, Client: hs.Client(), Now: w.c.Now, PageSize: 3, Roster: w.s}
		if _, err := y.Sync(w.ctx); err != nil {
			t.Fatal(err)
		}
		checkCounters(t, db, a.ID)
		if got, want := w.report(w.tr.Admin("110101"), a, "").Unit.Counts, (activity.Counts{Expected: 6, OffRegistered: 1}); got != want {
			t.Errorf("after the sync: %+v, want %+v", got, want)
		}

		// Next: someone moves into the county, then a page the office
		// cannot read.
		t2 := t1.Add(time.Minute)
		srv.mu.Lock()
		moved := w.person(w.tr.Staff("110102").Sub)
		srv.users = append(srv.users, scimUser(w.at(moved, "S01D2"), t2), scimUser(w.at(moved, "S01D2"), t2), scimUser(w.at(moved, "S01D2"), t2),
			map[string]any{"id": "p-broken", "meta": map[string]any{"lastModified": t2.Add(time.Second).Format(time.RFC3339)}})
		srv.mu.Unlock()
		mark, _ := w.dir.Mark(w.ctx, "Users")
		if _, err := y.Sync(w.ctx); err == nil {
			t.Fatal("a page with an unreadable account was applied")
		}
		checkCounters(t, db, a.ID)
		if got, want := w.report(w.tr.Admin("110101"), a, "").Unit.Counts, (activity.Counts{Expected: 7, OffRegistered: 1}); got != want {
			t.Errorf("after the pages before the broken one: %+v, want %+v", got, want)
		}
		if now, _ := w.dir.Mark(w.ctx, "Users"); now != mark {
			t.Errorf("the mark moved to %s past a failed page (was %s)", now, mark)
		}
	})
}
