package activity_test

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
	"github.com/xszz/xszz/office/activity"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/officetest"
)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func status(err error) int {
	var we *web.Error
	if errors.As(err, &we) {
		return we.Status
	}
	if err != nil {
		return 500
	}
	return 200
}

func training(start time.Time) activity.Activity {
	return activity.Activity{
		Title: "资助政策培训", Kind: "training", Place: "县教育局三楼会议室",
		StartsAt: start, EndsAt: start.Add(2 * time.Hour),
		RegOpens: start.Add(-72 * time.Hour), RegCloses: start,
		SigninOpens: start.Add(-30 * time.Minute), SigninCloses: start.Add(time.Hour),
	}
}

func TestRotatingCode(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1_800_000_015, 0)
	cur := activity.Code(secret, activity.Step(now))
	prev := activity.Code(secret, activity.Step(now)-1)
	older := activity.Code(secret, activity.Step(now)-2)
	next := activity.Code(secret, activity.Step(now)+1)
	if len(cur) != 6 || cur == prev {
		t.Fatalf("codes %q %q", cur, prev)
	}
	for _, c := range []struct {
		code string
		want bool
	}{{cur, true}, {prev, true}, {older, false}, {next, false}, {"", false}, {"12345", false}} {
		if got := activity.CheckCode(secret, c.code, now); got != c.want && !(c.code == next && next == cur) {
			t.Errorf("CheckCode(%q) = %v, want %v", c.code, got, c.want)
		}
	}
	if activity.Code([]byte("other secret"), activity.Step(now)) == cur && activity.Code([]byte("third"), activity.Step(now)) == cur {
		t.Error("codes do not depend on the secret")
	}
}

// A county's training: people register, sign in with the rotating code,
// and the coverage report rolls the figures up and names the gaps.
func TestRegistrationSignInAndCoverage(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		tr := officetest.Build(t, db)
		c := &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
		s := &activity.Service{DB: db, Dir: directory.NewStore(db), Now: c.Now}
		start := c.t.Add(24 * time.Hour)
		a := must(s.Create(ctx, tr.Admin("110101"), training(start)))

		// Expected: everyone below the county: 2 schools + 2 departments, 2 each.
		cov := must(s.Coverage(ctx, tr.Admin("110101"), a.ID, ""))
		if cov.Unit.Expected != 8 || cov.Unit.Registered != 0 || len(cov.Children) != 2 {
			t.Fatalf("coverage at start = %+v", cov.Unit)
		}
		if len(cov.NoneRegistered) != 1 || cov.NoneRegistered[0].ID != "110101" {
			t.Errorf("gaps at start = %+v, want the county itself", cov.NoneRegistered)
		}

		staff := tr.Staff("S01")
		must(s.Register(ctx, staff, a.ID))
		must(s.Register(ctx, staff, a.ID)) // twice is once
		must(s.Register(ctx, tr.Admin("S01D1"), a.ID))
		if err := second(s.CheckIn(ctx, staff, a.ID, "000000")); status(err) != http.StatusConflict {
			t.Errorf("sign-in before the window: %v", err)
		}

		c.t = start.Add(-10 * time.Minute)
		code, rotates := must2(s.CurrentCode(ctx, tr.Staff("110101"), a.ID))
		if !rotates.After(c.t) || rotates.Sub(c.t) > activity.CodeStep {
			t.Errorf("code rotates at %v (now %v)", rotates, c.t)
		}
		if err := second(s.CheckIn(ctx, staff, a.ID, wrong(code))); status(err) != http.StatusBadRequest {
			t.Errorf("wrong code: %v", err)
		}
		// The code read just before it rotated still works.
		c.t = rotates.Add(5 * time.Second)
		r := must(s.CheckIn(ctx, staff, a.ID, code))
		if r.CheckedInAt == nil || r.RegisteredAt == nil {
			t.Fatalf("after sign-in: %+v", r)
		}
		// A code two steps old does not.
		c.t = rotates.Add(activity.CodeStep + time.Second)
		if err := second(s.CheckIn(ctx, tr.Staff("S02"), a.ID, code)); status(err) != http.StatusBadRequest {
			t.Errorf("stale code: %v", err)
		}
		// Signing in unregistered registers on the way.
		code, _ = must2(s.CurrentCode(ctx, tr.Admin("110101"), a.ID))
		must(s.CheckIn(ctx, tr.Staff("S01D2"), a.ID, code))

		cov = must(s.Coverage(ctx, tr.Admin("110101"), a.ID, ""))
		if cov.Unit.Counts != (activity.Counts{Expected: 8, Registered: 3, CheckedIn: 2}) {
			t.Errorf("county totals = %+v", cov.Unit.Counts)
		}
		if len(cov.NoneRegistered) != 1 || cov.NoneRegistered[0].ID != "S02" {
			t.Errorf("units with nobody registered = %+v, want S02", cov.NoneRegistered)
		}
		school := must(s.Coverage(ctx, tr.Admin("110101"), a.ID, "S01"))
		if school.Unit.Counts != (activity.Counts{Expected: 6, Registered: 3, CheckedIn: 2}) {
			t.Errorf("school totals = %+v", school.Unit.Counts)
		}
		if len(school.NeverRegistered) != 1 || school.NeverRegistered[0].ID != tr.Admin("S01").Sub {
			t.Errorf("never registered at S01 = %+v", school.NeverRegistered)
		}
		dept := must(s.Coverage(ctx, tr.Admin("110101"), a.ID, "S01D1"))
		if len(dept.Absent) != 1 || dept.Absent[0].ID != tr.Admin("S01D1").Sub {
			t.Errorf("registered but absent at S01D1 = %+v", dept.Absent)
		}

		var buf bytes.Buffer
		if err := s.WriteCSV(ctx, tr.Admin("110101"), a.ID, "", &buf); err != nil {
			t.Fatal(err)
		}
		if lines := strings.Count(buf.String(), "\n"); lines != 9 || !strings.Contains(buf.String(), "已签到") || !strings.Contains(buf.String(), "未报名") {
			t.Errorf("csv:\n%s", buf.String())
		}

		c.t = start.Add(time.Minute)
		// Rules: only the organiser sees codes and coverage; outsiders see nothing.
		for _, c := range []struct {
			name string
			err  error
			want int
		}{
			{"a school cannot see the code", second2(s.CurrentCode(ctx, tr.Admin("S01"), a.ID)), http.StatusForbidden},
			{"a school cannot see coverage", second(s.Coverage(ctx, tr.Admin("S01"), a.ID, "")), http.StatusForbidden},
			{"a sibling county cannot see it", second(s.Get(ctx, tr.Staff("110102"), a.ID)), http.StatusNotFound},
			{"the city above is not invited", second(s.Register(ctx, tr.Staff("110100"), a.ID)), http.StatusNotFound},
			{"coverage outside the subtree", second(s.Coverage(ctx, tr.Admin("110101"), a.ID, "110102")), http.StatusNotFound},
			{"staff cannot create", second(s.Create(ctx, tr.Staff("110101"), training(start))), http.StatusForbidden},
			{"registration closed", second(s.Register(ctx, tr.Staff("S02"), a.ID)), http.StatusConflict},
		} {
			if got := status(c.err); got != c.want {
				t.Errorf("%s: %d (%v), want %d", c.name, got, c.err, c.want)
			}
		}
	})
}

func TestActivityValidation(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		tr := officetest.Build(t, db)
		c := &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
		s := &activity.Service{DB: db, Dir: directory.NewStore(db), Now: c.Now}
		base := training(c.t.Add(24 * time.Hour))
		for name, edit := range map[string]func(*activity.Activity){
			"ends before it starts":   func(a *activity.Activity) { a.EndsAt = a.StartsAt.Add(-time.Hour) },
			"no place or link":        func(a *activity.Activity) { a.Place = "" },
			"javascript link":         func(a *activity.Activity) { a.Link = "javascript:alert(1)" },
			"title of markup only":    func(a *activity.Activity) { a.Title = "<script>x</script>" },
			"unknown kind":            func(a *activity.Activity) { a.Kind = "party" },
			"sign-in window reversed": func(a *activity.Activity) { a.SigninCloses = a.SigninOpens },
			"target above":            func(a *activity.Activity) { a.Target = directory.Target{Kind: "units", Units: []string{"110100"}} },
		} {
			a := base
			edit(&a)
			if err := second(s.Create(ctx, tr.Admin("110101"), a)); status(err) != http.StatusBadRequest {
				t.Errorf("%s: %v", name, err)
			}
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM office_activities`).Scan(&n); err != nil || n != 0 {
			t.Errorf("activities after refusals: %d %v", n, err)
		}
	})
}

// Guessing the code stops after MaxFailures wrong tries in the window.
func TestCheckInGuessingIsLimited(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		tr := officetest.Build(t, db)
		c := &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
		s := &activity.Service{DB: db, Dir: directory.NewStore(db), Now: c.Now}
		a := must(s.Create(ctx, tr.Admin("110101"), training(c.t.Add(10*time.Minute))))
		code, _ := must2(s.CurrentCode(ctx, tr.Admin("110101"), a.ID))
		for i := range activity.MaxFailures {
			if err := second(s.CheckIn(ctx, tr.Staff("S01"), a.ID, wrong(code))); status(err) != http.StatusBadRequest {
				t.Fatalf("wrong code %d: %v", i, err)
			}
		}
		if err := second(s.CheckIn(ctx, tr.Staff("S01"), a.ID, code)); status(err) != http.StatusTooManyRequests {
			t.Fatalf("the right code after %d wrong ones: %v, want 429", activity.MaxFailures, err)
		}
		if err := second(s.CheckIn(ctx, tr.Staff("S02"), a.ID, code)); err != nil {
			t.Errorf("another person is not held back: %v", err)
		}
		c.t = c.t.Add(activity.FailureWindow)
		code, _ = must2(s.CurrentCode(ctx, tr.Admin("110101"), a.ID))
		if err := second(s.CheckIn(ctx, tr.Staff("S01"), a.ID, code)); err != nil {
			t.Errorf("after the window: %v", err)
		}
	})
}

func second[T any](_ T, err error) error          { return err }
func second2[A, B any](_ A, _ B, err error) error { return err }
func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}
func wrong(code string) string {
	if code == "111111" {
		return "222222"
	}
	return "111111"
}
