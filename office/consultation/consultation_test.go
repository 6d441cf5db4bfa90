package consultation_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
	"github.com/xszz/xszz/internal/web"
	"github.com/xszz/xszz/office/consultation"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/officetest"
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

func second[T any](_ T, err error) error { return err }

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func setup(t *testing.T, db *sqldb.DB) (*officetest.Tree, *consultation.Service, *clock) {
	tr := officetest.Build(t, db)
	c := &clock{time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	return tr, &consultation.Service{DB: db, Dir: directory.NewStore(db), Now: c.now, Quiet: 7 * 24 * time.Hour}, c
}

var q = consultation.Question{Title: "国家助学金的认定标准是什么？", Body: "家庭经济困难学生如何认定？"}

func TestFlow(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		tr, s, _ := setup(t, db)
		asker, county, city := tr.Staff("S01"), tr.Admin("110101"), tr.Admin("110100")
		c, err := s.Ask(ctx, asker, q)
		if err != nil {
			t.Fatal(err)
		}
		act := func(v directory.Viewer, a, text string) error {
			return second(s.Act(ctx, v, c.ID, consultation.Step{Action: a, Text: text}))
		}
		for _, st := range []struct {
			name      string
			who       directory.Viewer
			action    string
			text      string
			want      int
			wantState string
		}{
			{"the asker cannot answer", asker, "answer", "答", 403, "open"},
			{"the holder cannot close for the asker", county, "close", "", 403, "open"},
			{"an answer needs text", county, "answer", "", 400, "open"},
			{"asked back", county, "ask_back", "请说明年级", 200, "asked_back"},
			{"no answer while waiting for the asker", county, "answer", "答", 409, "asked_back"},
			{"the asker replies", asker, "reply", "高一", 200, "open"},
			{"escalated to the city", county, "escalate", "请市里答复", 200, "open"},
			{"the county no longer holds it", county, "answer", "答", 403, "open"},
			{"answered by the city", city, "answer", "按照国家助学金管理办法认定。", 200, "answered"},
			{"closed by the asker", asker, "close", "", 200, "closed"},
			{"closed is final", asker, "reply", "再问", 409, "closed"},
			{"an unknown action", asker, "auto_close", "", 400, "closed"},
		} {
			if got := status(act(st.who, st.action, st.text)); got != st.want {
				t.Fatalf("%s: %d, want %d", st.name, got, st.want)
			}
			v, _ := s.Get(ctx, asker, c.ID)
			if v.State != st.wantState {
				t.Fatalf("%s: state %s, want %s", st.name, v.State, st.wantState)
			}
		}
		v, _ := s.Get(ctx, asker, c.ID)
		if len(v.Trail) != 6 || v.AnswerOrgID != "110100" {
			t.Fatalf("trail %d, answered by %s", len(v.Trail), v.AnswerOrgID)
		}
	})
}

func TestQuietQuestionsCloseThemselves(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		tr, s, clk := setup(t, db)
		asker, county := tr.Staff("S01"), tr.Admin("110101")
		answered, _ := s.Ask(ctx, asker, q)
		open, _ := s.Ask(ctx, asker, q)
		if _, err := s.Act(ctx, county, answered.ID, consultation.Step{Action: "answer", Text: "答复"}); err != nil {
			t.Fatal(err)
		}
		clk.t = clk.t.Add(7*24*time.Hour - time.Second)
		if n, err := s.CloseQuiet(ctx); n != 0 || err != nil {
			t.Fatalf("closed %d before the quiet period (%v)", n, err)
		}
		clk.t = clk.t.Add(time.Second)
		if n, err := s.CloseQuiet(ctx); n != 1 || err != nil {
			t.Fatalf("closed %d (%v), want 1", n, err)
		}
		v, _ := s.Get(ctx, asker, answered.ID)
		if v.State != "closed" || v.Trail[len(v.Trail)-1].Action != "auto_close" {
			t.Fatalf("%s %+v", v.State, v.Trail)
		}
		if v, _ := s.Get(ctx, asker, open.ID); v.State != "open" {
			t.Fatal("an unanswered question closed itself")
		}
	})
}

func TestKnowledgeBaseSearch(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		tr, s, _ := setup(t, db)
		county := tr.Admin("110101")
		ask := func(title string, public bool) int64 {
			c, err := s.Ask(ctx, tr.Staff("S01"), consultation.Question{Title: title})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Act(ctx, county, c.ID, consultation.Step{Action: "answer", Text: "见有关文件。", Public: public}); err != nil {
				t.Fatal(err)
			}
			return c.ID
		}
		pub := ask("国家助学金什么时候发放？", true)
		ask("国家助学金的名额如何分配？", false) // answered, not public
		other := ask("学费减免怎么申请？", true)
		if _, err := s.Ask(ctx, tr.Staff("S01"), consultation.Question{Title: "国家助学金还没答复的问题"}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			who  directory.Viewer
			q    string
			want []int64
		}{
			{"a phrase, trigram index", tr.Staff("S02"), "国家助学金", []int64{pub}},
			{"in the answer", tr.Staff("S02"), "有关文件", []int64{other, pub}},
			{"two characters, the fallback", tr.Staff("S02"), "学费", []int64{other}},
			{"one character", tr.Staff("S01D2"), "费", []int64{other}},
			{"the answering unit itself", tr.Staff("110101"), "国家助学金", []int64{pub}},
			{"a sibling county does not see it", tr.Staff("110102"), "国家助学金", nil},
			{"the city above does not see it", tr.Staff("110100"), "国家助学金", nil},
			{"LIKE wildcards are text", tr.Staff("S02"), "%", nil},
			{"quotes are text", tr.Staff("S02"), `"国家"`, nil},
		} {
			list, err := s.Search(ctx, tc.who, tc.q, 0, 0)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			var ids []int64
			for _, c := range list {
				ids = append(ids, c.ID)
				if c.AuthorName != "" {
					t.Errorf("%s: the asker's name is shown in the knowledge base", tc.name)
				}
			}
			if len(ids) != len(tc.want) || (len(ids) > 0 && ids[0] != tc.want[0]) {
				t.Errorf("%s: %v, want %v", tc.name, ids, tc.want)
			}
		}
		if err := second(s.Search(ctx, tr.Staff("S02"), "  ", 0, 0)); status(err) != 400 {
			t.Fatalf("an empty search: %v", err)
		}
		// Readers of the knowledge base read the answer, not who asked.
		v, err := s.Get(ctx, tr.Staff("S02"), pub)
		if err != nil || v.AuthorName != "" || v.Trail != nil {
			t.Fatalf("%+v %v", v, err)
		}
	})
}

// Two steps racing on one question (neither allowed after the other):
// exactly one applies, the other is
// refused, and the trail has one entry for it (PostgreSQL: row lock and
// version check).
func TestRacingSteps(t *testing.T) {
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		tr, s, _ := setup(t, db)
		c, err := s.Ask(ctx, tr.Staff("S01"), q)
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 2)
		go func() {
			errs <- second(s.Act(ctx, tr.Admin("110101"), c.ID, consultation.Step{Action: "answer", Text: "答复"}))
		}()
		go func() {
			errs <- second(s.Act(ctx, tr.Admin("110101"), c.ID, consultation.Step{Action: "ask_back", Text: "请补充"}))
		}()
		ok := 0
		for range 2 {
			if err := <-errs; err == nil {
				ok++
			} else if status(err) != 409 {
				t.Errorf("the loser: %v", err)
			}
		}
		v, _ := s.Get(ctx, tr.Staff("S01"), c.ID)
		if ok != 1 || len(v.Trail) != 2 {
			t.Fatalf("%d applied, trail of %d", ok, len(v.Trail))
		}
	})
}
