package office

import (
	"context"
	"fmt"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/office/complaint"
	"github.com/xszz/xszz/office/consultation"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/submission"
)

// seedWorkflows adds demo submissions, consultations and complaints in
// several states: filed by the deepest staff member with an admin above,
// handled by that admin.
func seedWorkflows(ctx context.Context, db *sqldb.DB, dir *directory.Store, people []DemoPerson, admins []directory.Viewer, now time.Time) error {
	var staff *directory.Viewer
	var holder directory.Viewer
	for _, p := range people {
		if p.Role == "admin" || len(p.OrgPath) < 2 {
			continue
		}
		for _, a := range admins {
			if a.OrgID == p.OrgPath[len(p.OrgPath)-2] && (staff == nil || len(p.OrgPath) > len(directory.PathIDs(staff.Path))) {
				staff = &directory.Viewer{Sub: p.Sub, Name: p.Name, OrgID: p.OrgID, OrgName: p.OrgName, Level: p.OrgLevel, Path: directory.JoinPath(p.OrgPath), Roles: []string{"staff"}}
				holder = a
			}
		}
	}
	if staff == nil {
		return nil
	}
	clock := func() time.Time { return now }
	subs := &submission.Service{DB: db, Dir: dir, Now: clock}
	cons := &consultation.Service{DB: db, Dir: dir, Now: clock}
	comps := &complaint.Service{DB: db, Dir: dir, Now: clock}
	fail := func(what string, err error) error { return fmt.Errorf("demo seed: %s: %w", what, err) }

	for i, d := range []struct {
		title, decision string
	}{{"我校开展资助育人主题班会", ""}, {"精准资助让每个孩子安心上学", "publish"}, {"资助政策进万家活动纪实", "return"}} {
		sub, err := subs.Submit(ctx, *staff, submission.Draft{Title: d.title, Body: fmt.Sprintf("<p>%s。本文介绍了我校第 %d 次相关工作的经验做法。</p>", d.title, i+1)})
		if err != nil {
			return fail("submission", err)
		}
		if d.decision != "" {
			if _, err := subs.Review(ctx, holder, sub.ID, submission.Review{Decision: d.decision, Comment: map[string]string{"publish": "内容翔实，予以发布。", "return": "请补充活动照片和受助学生数量。"}[d.decision]}); err != nil {
				return fail("review", err)
			}
		}
	}
	for _, q := range []struct {
		title, answer string
		public        bool
	}{{"国家助学金的资助标准是多少？", "本专科生国家助学金平均资助标准为每生每年 3700 元，可分档。", true}, {"家庭经济困难学生认定需要哪些材料？", "", false}} {
		c, err := cons.Ask(ctx, *staff, consultation.Question{Title: q.title, Body: "请上级单位答复，谢谢。"})
		if err != nil {
			return fail("consultation", err)
		}
		if q.answer != "" {
			if _, err := cons.Act(ctx, holder, c.ID, consultation.Step{Action: "answer", Text: q.answer, Public: q.public}); err != nil {
				return fail("answer", err)
			}
		}
	}
	for _, f := range []struct {
		title string
		steps []string
	}{{"助学金发放不及时", []string{complaint.Accepted, complaint.InProgress}}, {"资助名额分配不透明", nil}} {
		c, err := comps.File(ctx, *staff, complaint.Filing{Title: f.title, Body: "具体情况：" + f.title + "，请尽快核实处理。", Case: "示例案件"})
		if err != nil {
			return fail("complaint", err)
		}
		for _, to := range f.steps {
			if _, err := comps.Transition(ctx, holder, c.ID, to, "已收到，正在核实。"); err != nil {
				return fail("complaint transition", err)
			}
		}
	}
	return nil
}
