package office

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/office/activity"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/notice"
)

// DemoPerson is a demo account as the IdP holds it.
type DemoPerson struct {
	Sub, Name, Phone string // Phone in E.164
	OrgID, OrgName   string
	OrgLevel         string
	// OrgPath lists unit ids from the root down to and including OrgID.
	OrgPath []string
	Role    string // "admin" or "staff"
}

// DemoNoticeTitle names the demo notice, so seeding twice is seeding once.
const DemoNoticeTitle = "关于做好2026年春季学期学生资助工作的通知"

// SeedDemo fills the office with demo work for the demo accounts: the
// people and their units in the directory copy (as a sync would; the next
// real sync overwrites them), a notice published by the highest demo
// admin and forwarded level by level by each admin below, a second notice
// to the whole subtree that asks for confirmation, and a training with
// registration and sign-in open now. Running it again changes nothing.
func SeedDemo(ctx context.Context, db *sqldb.DB, people []DemoPerson, now time.Time) error {
	dir := directory.NewStore(db)
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM office_notices WHERE title = $1`, DemoNoticeTitle).Scan(&n); err != nil {
		return fmt.Errorf("demo seed: %w", err)
	}
	if n > 0 {
		return nil
	}
	ts := now.Unix()
	seen := map[string]bool{}
	var admins []directory.Viewer
	for _, p := range people {
		if len(p.OrgPath) == 0 || p.OrgPath[len(p.OrgPath)-1] != p.OrgID {
			return fmt.Errorf("demo seed: %s: org path must end with the org id", p.Name)
		}
		path := directory.JoinPath(p.OrgPath)
		for i, id := range p.OrgPath {
			if seen[id] {
				continue
			}
			u := directory.Unit{ID: id, Name: id, Level: directory.Levels[min(i, len(directory.Levels)-1)], Path: directory.JoinPath(p.OrgPath[:i+1]), Kind: "regular", Active: true}
			if i > 0 {
				u.ParentID = p.OrgPath[i-1]
			}
			if id == p.OrgID {
				u.Name, u.Level = p.OrgName, p.OrgLevel
			} else if _, err := dir.Unit(ctx, id); err == nil {
				continue // a real sync already named it
			}
			if err := dir.PutUnit(ctx, u, ts); err != nil {
				return err
			}
			if id == p.OrgID {
				seen[id] = true
			}
		}
		role := p.Role
		if role == "" {
			role = "staff"
		}
		if err := dir.PutPerson(ctx, directory.Person{ID: p.Sub, Name: p.Name, Phone: p.Phone, OrgID: p.OrgID, OrgPath: path, Role: role, Active: true}, ts); err != nil {
			return err
		}
		if role == "admin" {
			admins = append(admins, directory.Viewer{Sub: p.Sub, Name: p.Name, OrgID: p.OrgID, OrgName: p.OrgName, Level: p.OrgLevel, Path: path, Roles: []string{"admin"}})
		}
	}
	if err := dir.RecomputeSizes(ctx); err != nil {
		return err
	}
	if len(admins) == 0 {
		return nil
	}
	sort.SliceStable(admins, func(i, j int) bool { return len(admins[i].Path) < len(admins[j].Path) })
	clock := func() time.Time { return now }
	ns := &notice.Service{DB: db, Dir: dir, Now: clock}
	as := &activity.Service{DB: db, Dir: dir, Now: clock}
	top := admins[0]
	below := func(level string) []string {
		i := slices.Index(directory.Levels, level)
		if i < 0 || i+1 >= len(directory.Levels) {
			return nil
		}
		return []string{directory.Levels[i+1]}
	}
	deadline := now.Add(7 * 24 * time.Hour)
	target := directory.Target{Kind: directory.TargetSubtree}
	if l := below(top.Level); l != nil {
		target = directory.Target{Kind: directory.TargetLevels, Levels: l}
	}
	root, err := ns.Publish(ctx, top, notice.Draft{
		Title: DemoNoticeTitle, RequireConfirm: true, Deadline: &deadline, Target: target,
		Body: "<p>各有关单位：</p><p>为做好2026年春季学期学生资助工作，确保资助政策落实到位，现将有关事项通知如下：</p>" +
			"<ol><li>认真开展家庭经济困难学生认定工作，做到<b>不漏一人</b>；</li><li>按时足额发放各项资助资金；</li><li>请于截止时间前确认收到本通知。</li></ol>",
	})
	if err != nil {
		return fmt.Errorf("demo seed: publish: %w", err)
	}
	notes := map[string]string{"province": "请各市认真学习并转发至所辖区县。", "city": "请各区县抓好落实，转发至所属学校。", "county": "请各校于本周五前确认并报送联系人。", "school": "请各院系认真落实。"}
	for _, a := range admins[1:] {
		l := below(a.Level)
		if l == nil {
			continue
		}
		dl := now.Add(5 * 24 * time.Hour)
		if _, err := ns.Forward(ctx, a, root.ID, notice.Draft{Note: notes[a.Level], Deadline: &dl, Target: directory.Target{Kind: directory.TargetLevels, Levels: l}}); err != nil {
			// An admin the notice did not reach (another branch) skips.
			continue
		}
	}
	if _, err := ns.Publish(ctx, top, notice.Draft{Title: "学生资助政策宣传月活动安排", Body: "<p>请各单位组织开展资助政策宣传，营造良好氛围。</p>"}); err != nil {
		return fmt.Errorf("demo seed: publish: %w", err)
	}
	// The training is held by the lowest admin with units below, so the
	// demo's school staff are invited.
	host := top
	for _, a := range admins {
		if below(a.Level) != nil && slices.Index(directory.Levels, a.Level) < slices.Index(directory.Levels, "school") {
			host = a
		}
	}
	start := now.Add(2 * time.Hour)
	if _, err := as.Create(ctx, host, activity.Activity{
		Title: "2026年学生资助业务能力培训", Kind: "training", Place: host.OrgName + "三楼会议室", Link: "https://meeting.example.cn/xszz-training",
		Description: "培训内容：资助政策解读、家庭经济困难学生认定、资助系统操作。请按时签到。",
		StartsAt:    start, EndsAt: start.Add(3 * time.Hour), RegOpens: now.Add(-time.Hour), RegCloses: start,
		SigninOpens: now.Add(-time.Hour), SigninCloses: start.Add(3 * time.Hour),
	}); err != nil {
		return fmt.Errorf("demo seed: activity: %w", err)
	}
	return seedWorkflows(ctx, db, dir, people, admins, now)
}
