package complaint_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/internal/web"
	"github.com/xszz/xszz/office/complaint"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/officetest"
	"github.com/xszz/xszz/office/workflow"
)

func status(err error) int {
	var we *web.Error
	if err == nil {
		return 200
	}
	if errors.As(err, &we) {
		return we.Status
	}
	return 500
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func setup(t *testing.T, db *sqldb.DB) (*officetest.Tree, *complaint.Service, *clock) {
	tr := officetest.Build(t, db)
	c := &clock{time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	return tr, &complaint.Service{DB: db, Dir: directory.NewStore(db), Now: c.now}, c
}

var filing = complaint.Filing{Title: "助学金发放延迟", Body: "本校学生的国家助学金已延迟两个月未发放。", Case: "2026-学生-001"}

func TestStateMachine(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		tr, s, _ := setup(t, db)
		school, county := tr.Staff("S01"), tr.Admin("110101")
		cases := []struct {
			name  string
			who   directory.Viewer
			steps []string // target states in order; the last may fail
			want  int      // status of the last step
			final string
		}{
			{"the happy path", county, []string{"accepted", "in_progress", "replied", "closed"}, 200, "closed"},
			{"rejected at once", county, []string{"rejected"}, 200, "rejected"},
			{"rejected after accepting", county, []string{"accepted", "rejected"}, 200, "rejected"},
			{"no reply before starting", county, []string{"accepted", "replied"}, 409, "accepted"},
			{"no skipping acceptance", county, []string{"in_progress"}, 409, "submitted"},
			{"closed is final", county, []string{"rejected", "accepted"}, 409, "rejected"},
			{"the complainant cannot accept", school, []string{"accepted"}, 403, "submitted"},
			{"unknown state", county, []string{"done"}, 400, "submitted"},
			{"back to submitted is not a transition", county, []string{"submitted"}, 400, "submitted"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c, err := s.File(ctx, school, filing)
				if err != nil {
					t.Fatal(err)
				}
				var last error
				for _, to := range tc.steps {
					last = second(s.Transition(ctx, tc.who, c.ID, to, "说明"))
				}
				if got := status(last); got != tc.want {
					t.Fatalf("last step: %d (%v), want %d", got, last, tc.want)
				}
				v, err := s.Get(ctx, school, c.ID)
				if err != nil {
					t.Fatal(err)
				}
				if v.State != tc.final {
					t.Fatalf("state %s, want %s", v.State, tc.final)
				}
				if len(v.Trail) != 1+len(tc.steps)-map[bool]int{true: 0, false: 1}[tc.want == 200] {
					t.Fatalf("trail has %d steps: %+v", len(v.Trail), v.Trail)
				}
			})
		}
	})
}

func second[T any](_ T, err error) error { return err }

func TestRefusalNamesTheAllowedTransitions(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		tr, s, _ := setup(t, db)
		c, err := s.File(ctx, tr.Staff("S01"), filing)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Transition(ctx, tr.Admin("110101"), c.ID, "replied", "答复")
		var we *web.Error
		if !errors.As(err, &we) || we.Status != http.StatusConflict || !strings.Contains(we.Message, "accepted") || !strings.Contains(we.Message, "rejected") {
			t.Fatalf("got %v", err)
		}
	})
}

func TestReasonsAndRepliesAreRequired(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		tr, s, _ := setup(t, db)
		c, _ := s.File(ctx, tr.Staff("S01"), filing)
		if err := second(s.Transition(ctx, tr.Admin("110101"), c.ID, "rejected", "  ")); status(err) != 400 {
			t.Fatalf("rejection without a reason: %v", err)
		}
		v, _ := s.Get(ctx, tr.Staff("S01"), c.ID)
		if v.State != "submitted" || len(v.Trail) != 1 {
			t.Fatalf("a refused transition wrote something: %+v", v)
		}
	})
}

func TestRouting(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		tr, s, _ := setup(t, db)
		school := tr.Staff("S01")
		cases := []struct {
			name      string
			about, to string
			want      int
			holder    string
		}{
			{"the parent by default", "", "", 200, "110101"},
			{"a chosen unit above", "", "110000", 200, "110000"},
			{"not a sibling", "", "S02", 400, ""},
			{"not one's own unit", "", "S01", 400, ""},
			{"about the county, handled by the county", "110101", "110101", 200, "110101"},
			{"about the county, handled by the city", "110101", "110100", 200, "110100"},
			{"about the city, not by the county below it", "110100", "110101", 400, ""},
			{"about the city, by the city when nobody is chosen", "110100", "", 200, "110100"},
			{"about one's own school, by the county", "S01", "", 200, "110101"},
			{"not about another school", "S02", "", 400, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				f := filing
				f.About, f.To = tc.about, tc.to
				c, err := s.File(ctx, school, f)
				if status(err) != tc.want {
					t.Fatalf("%v, want %d", err, tc.want)
				}
				if err == nil && c.ToOrgID != tc.holder {
					t.Fatalf("held by %s, want %s", c.ToOrgID, tc.holder)
				}
			})
		}
	})
}

func TestDeadlines(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		tr, s, clk := setup(t, db)
		start := clk.t
		c, err := s.File(ctx, tr.Staff("S01"), filing)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := s.Get(ctx, tr.Staff("S01"), c.ID)
		// The complainant sees every deadline, planned ahead.
		if len(v.Deadlines) != 3 || !v.Deadlines[0].Due.Equal(start.Add(48*time.Hour)) ||
			!v.Deadlines[1].Due.Equal(start.Add(5*24*time.Hour)) || !v.Deadlines[2].Due.Equal(start.Add(20*24*time.Hour)) {
			t.Fatalf("deadlines %+v", v.Deadlines)
		}
		city := tr.Admin("110100")
		overdue := func() int {
			items, err := s.List(ctx, city, workflow.Query{Box: workflow.BoxOverdue})
			if err != nil {
				t.Fatal(err)
			}
			return len(items)
		}
		if n := overdue(); n != 0 {
			t.Fatalf("%d overdue before the deadline", n)
		}
		clk.t = start.Add(49 * time.Hour)
		if n := overdue(); n != 1 {
			t.Fatalf("the city sees %d overdue complaints, want 1", n)
		}
		if items, _ := s.List(ctx, tr.Admin("110000"), workflow.Query{Box: workflow.BoxOverdue}); len(items) != 0 {
			t.Fatal("the province is not the unit directly above the county")
		}
		_, _, below, err := s.Pending(ctx, city)
		if err != nil || below != 1 {
			t.Fatalf("city inbox: %d, %v", below, err)
		}
		if _, err := s.Transition(ctx, tr.Admin("110101"), c.ID, "accepted", ""); err != nil {
			t.Fatal(err)
		}
		if n := overdue(); n != 0 {
			t.Fatal("accepting clears the flag until the next deadline")
		}
		v, _ = s.Get(ctx, tr.Staff("S01"), c.ID)
		if !v.Deadlines[0].Overdue || v.Deadlines[0].Done == nil || !v.Deadlines[1].Due.Equal(clk.t.Add(72*time.Hour)) {
			t.Fatalf("after a late acceptance: %+v", v.Deadlines)
		}
	})
}

func TestHiddenName(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		tr, s, _ := setup(t, db)
		f := filing
		f.About, f.To, f.Anonymous = "110101", "110100", true
		c, err := s.File(ctx, tr.Staff("S01"), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			who  directory.Viewer
			name bool
		}{
			{tr.Staff("S01"), true},     // the complainant
			{tr.Admin("110100"), true},  // the responsible unit
			{tr.Admin("110000"), true},  // above it
			{tr.Admin("110101"), false}, // the unit complained about
			{tr.Admin("S01"), false},    // the complainant's own unit, below the responsible one
		} {
			v, err := s.Get(ctx, tc.who, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			shown := v.AuthorName != complaint.Hidden && v.Trail[0].ActorName != complaint.Hidden
			if shown != tc.name {
				t.Errorf("%s sees the name: %v, want %v", tc.who.OrgID, shown, tc.name)
			}
			list, err := s.List(ctx, tc.who, workflow.Query{Box: map[bool]string{true: workflow.BoxMine, false: workflow.BoxSubtree}[tc.who.Sub == c.AuthorID]})
			if err != nil || len(list) != 1 || (list[0].AuthorName != complaint.Hidden) != tc.name {
				t.Errorf("%s list: %v %+v", tc.who.OrgID, err, list)
			}
		}
	})
}

func TestTrailIsAppendOnly(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		tr, s, _ := setup(t, db)
		c, _ := s.File(ctx, tr.Staff("S01"), filing)
		if _, err := db.ExecContext(ctx, `UPDATE office_trail SET actor_name = 'x' WHERE item_id = $1`, c.ID); err == nil {
			t.Fatal("the trail was edited")
		}
		if _, err := db.ExecContext(ctx, `DELETE FROM office_trail WHERE item_id = $1`, c.ID); err == nil {
			t.Fatal("the trail was deleted")
		}
	})
}

// Two handlers racing on one complaint: exactly one transition applies.
func TestRacingTransitions(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		tr, s, _ := setup(t, db)
		c, _ := s.File(ctx, tr.Staff("S01"), filing)
		errs := make(chan error, 2)
		// Two admins accept at once: the second finds it accepted.
		for _, to := range []string{"accepted", "accepted"} {
			go func() { _, err := s.Transition(ctx, tr.Admin("110101"), c.ID, to, "理由"); errs <- err }()
		}
		ok := 0
		for range 2 {
			if err := <-errs; err == nil {
				ok++
			} else if st := status(err); st != 409 {
				t.Errorf("loser: %v", err)
			}
		}
		v, _ := s.Get(ctx, tr.Staff("S01"), c.ID)
		if ok != 1 || len(v.Trail) != 2 {
			t.Fatalf("%d applied, trail %d", ok, len(v.Trail))
		}
	})
}
