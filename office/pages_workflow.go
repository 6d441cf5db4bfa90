package office

import (
	"fmt"
	"html/template"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/office/complaint"
	"github.com/xszz/xszz/office/consultation"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/submission"
	"github.com/xszz/xszz/office/workflow"
)

// workflowNav are the header links of office part II.
var workflowNav = []struct{ Href, Label string }{{"/submissions", "投稿"}, {"/consultations", "咨询"}, {"/complaints", "投诉"}}

func init() {
	for k, v := range map[string]string{"submitted": "稿件已提交", "asked": "咨询已提交", "filed": "投诉已提交", "done": "已办理"} {
		flashes[k] = v
	}
}

// mountWorkflowPages serves the pages of submissions, consultations and
// complaints (office part II).
func (s *Service) mountWorkflowPages(g *echo.Group) {
	g.GET("/submissions", s.wfListPage("submissions"))
	g.GET("/submissions/new", s.wfNewPage("submissions"))
	g.POST("/submissions", s.submitForm)
	g.GET("/submissions/:id", s.submissionPage)
	g.POST("/submissions/:id/review", s.reviewForm)
	g.POST("/submissions/:id/resubmit", s.resubmitForm)
	g.GET("/submissions/:id/images/:n", s.apiSubmissionImage)
	g.GET("/submissions/export.csv", s.apiSubmissionsCSV)
	g.GET("/consultations", s.wfListPage("consultations"))
	g.GET("/consultations/new", s.wfNewPage("consultations"))
	g.POST("/consultations", s.askForm)
	g.GET("/consultations/:id", s.consultationPage)
	g.POST("/consultations/:id/act", s.consultForm)
	g.GET("/consultations/export.csv", s.apiConsultationsCSV)
	g.GET("/complaints", s.wfListPage("complaints"))
	g.GET("/complaints/new", s.wfNewPage("complaints"))
	g.POST("/complaints", s.fileForm)
	g.GET("/complaints/:id", s.complaintPage)
	g.POST("/complaints/:id/transition", s.transitionForm)
	g.GET("/complaints/export.csv", s.apiComplaintsCSV)
}

type wfModule struct {
	Key, Name, New string
	Machine        workflow.Machine
}

var wfModules = map[string]wfModule{
	"submissions":   {"submissions", "投稿", "我要投稿", submission.Machine},
	"consultations": {"consultations", "咨询", "我要咨询", consultation.Machine},
	"complaints":    {"complaints", "投诉", "我要投诉", complaint.Machine},
}

// wfRow is one line of a list page.
type wfRow struct {
	ID                     int64
	Title, State, StateKey string
	From, Author, To       string
	Created                time.Time
	Due                    *time.Time
	Overdue                bool
	Public                 bool
}

func rowOf(m workflow.Machine, it *workflow.Item, now time.Time) wfRow {
	return wfRow{ID: it.ID, Title: it.Title, State: m.Names[it.State], StateKey: it.State, From: it.FromName, Author: it.AuthorName, To: it.ToName,
		Created: it.CreatedAt, Due: it.DueAt, Overdue: it.DueAt != nil && now.After(*it.DueAt)}
}

func (s *Service) wfListPage(key string) echo.HandlerFunc {
	m := wfModules[key]
	return func(c echo.Context) error {
		ctx, v := c.Request().Context(), viewerOf(c)
		q, err := listQuery(c)
		if err != nil {
			return err
		}
		now := s.d.Now()
		var rows []wfRow
		data := map[string]any{"M": m, "Q": q, "States": m.Machine.Allowed, "Search": c.QueryParam("q")}
		switch {
		case key == "consultations" && c.QueryParam("q") != "":
			found, err := s.wf.cons.Search(ctx, v, c.QueryParam("q"), q.Before, 0)
			if err != nil {
				return err
			}
			for _, x := range found {
				r := rowOf(m.Machine, &x.Item, now)
				r.Public = true
				rows = append(rows, r)
			}
			q.Box = "search"
		case key == "submissions" && q.Box == "published":
			found, err := s.wf.subs.PublishedFor(ctx, v, q.Before, 0)
			if err != nil {
				return err
			}
			for _, x := range found {
				rows = append(rows, rowOf(m.Machine, &x.Item, now))
			}
		case key == "submissions":
			found, err := s.wf.subs.List(ctx, v, q)
			if err != nil {
				return err
			}
			for _, x := range found {
				rows = append(rows, rowOf(m.Machine, &x.Item, now))
			}
		case key == "consultations":
			found, err := s.wf.cons.List(ctx, v, q)
			if err != nil {
				return err
			}
			for _, x := range found {
				rows = append(rows, rowOf(m.Machine, &x.Item, now))
			}
		default:
			found, err := s.wf.comps.List(ctx, v, q)
			if err != nil {
				return err
			}
			for _, x := range found {
				rows = append(rows, rowOf(m.Machine, &x.Item, now))
			}
		}
		data["Rows"], data["Box"] = rows, q.Box
		if len(rows) == workflow.DefaultLimit {
			next := c.QueryParams()
			next.Set("before", fmt.Sprint(rows[len(rows)-1].ID))
			data["Next"] = template.URL("?" + next.Encode())
		}
		states := map[string]string{}
		for k := range m.Machine.Moves {
			states[k] = m.Machine.Names[k]
		}
		data["StateNames"] = states
		data["State"] = c.QueryParam("state")
		data["From"], data["To"] = c.QueryParam("from"), c.QueryParam("to")
		data["Export"] = template.URL("/" + key + "/export.csv?" + url.Values{"state": {c.QueryParam("state")}, "from": {c.QueryParam("from")}, "to": {c.QueryParam("to")}}.Encode())
		return s.render(c, "wf_list.html", m.Name, "/"+key, data)
	}
}

// above lists the units above the viewer's, nearest first, for the "to
// whom" choice.
func (s *Service) above(c echo.Context, v directory.Viewer) ([]directory.Unit, error) {
	ids := directory.PathIDs(v.Path)
	var out []directory.Unit
	for i := len(ids) - 2; i >= 0; i-- {
		u, err := s.dir.Unit(c.Request().Context(), ids[i])
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

func (s *Service) wfNewPage(key string) echo.HandlerFunc {
	m := wfModules[key]
	return func(c echo.Context) error {
		v := viewerOf(c)
		up, err := s.above(c, v)
		if err != nil {
			return err
		}
		own, err := s.dir.Unit(c.Request().Context(), v.OrgID)
		if err != nil {
			return err
		}
		return s.render(c, "wf_new.html", m.New, "/"+key, map[string]any{"M": m, "Above": up, "Own": own})
	}
}

func (s *Service) submitForm(c echo.Context) error {
	d := submission.Draft{Title: c.FormValue("title"), Body: c.FormValue("body"), To: c.FormValue("to")}
	form, err := multipartForm(c)
	if err != nil {
		return err
	}
	if form != nil {
		if d.Images, err = readFiles(form, "images", submission.MaxImageSize, "每张图片应在 2 MB 以内",
			func(name string, data []byte) submission.Upload { return submission.Upload{Name: name, Data: data} }); err != nil {
			return err
		}
	}
	sub, err := s.wf.subs.Submit(c.Request().Context(), viewerOf(c), d)
	if err != nil {
		return err
	}
	return back(c, fmt.Sprintf("/submissions/%d", sub.ID), "submitted")
}

// wfAction is one action form on an item's page.
type wfAction struct {
	Path, Field, Value, Label string
	Text                      string // the text field's label; empty: none
	Required, Public, Danger  bool
	Above                     []directory.Unit
}

func (s *Service) submissionPage(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	v, err := s.wf.subs.Get(c.Request().Context(), viewerOf(c), id)
	if err != nil {
		return err
	}
	var acts []wfAction
	for _, a := range v.Allowed {
		path := fmt.Sprintf("/submissions/%d/review", id)
		switch a {
		case "publish":
			acts = append(acts, wfAction{Path: path, Field: "decision", Value: a, Label: "发布", Text: "意见（可选）"})
		case "return":
			acts = append(acts, wfAction{Path: path, Field: "decision", Value: a, Label: "退回修改", Text: "修改意见", Required: true})
		case "reject":
			acts = append(acts, wfAction{Path: path, Field: "decision", Value: a, Label: "不采用", Text: "理由", Required: true, Danger: true})
		case "escalate":
			acts = append(acts, wfAction{Path: path, Field: "decision", Value: a, Label: "推荐上报上级", Text: "推荐意见（可选）"})
		}
	}
	return s.render(c, "wf_item.html", v.Title, "/submissions", map[string]any{"M": wfModules["submissions"], "Item": v.Submission.Item,
		"Body": template.HTML(v.BodyHTML), // sanitised by bluemonday when submitted
		"S":    v, "Trail": v.Trail, "Actions": acts, "Resubmit": contains(v.Allowed, "resubmit")})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (s *Service) reviewForm(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if _, err := s.wf.subs.Review(c.Request().Context(), viewerOf(c), id, submission.Review{Decision: c.FormValue("decision"), Comment: c.FormValue("text")}); err != nil {
		return err
	}
	return back(c, fmt.Sprintf("/submissions/%d", id), "done")
}

func (s *Service) resubmitForm(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	d := submission.Draft{Title: c.FormValue("title"), Body: c.FormValue("body")}
	if _, err := s.wf.subs.Resubmit(c.Request().Context(), viewerOf(c), id, d, c.FormValue("text")); err != nil {
		return err
	}
	return back(c, fmt.Sprintf("/submissions/%d", id), "submitted")
}

func (s *Service) askForm(c echo.Context) error {
	cs, err := s.wf.cons.Ask(c.Request().Context(), viewerOf(c), consultation.Question{Title: c.FormValue("title"), Body: c.FormValue("body"), To: c.FormValue("to")})
	if err != nil {
		return err
	}
	return back(c, fmt.Sprintf("/consultations/%d", cs.ID), "asked")
}

func (s *Service) consultationPage(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	v, err := s.wf.cons.Get(c.Request().Context(), viewerOf(c), id)
	if err != nil {
		return err
	}
	path := fmt.Sprintf("/consultations/%d/act", id)
	var acts []wfAction
	for _, a := range v.Allowed {
		switch a {
		case "answer":
			acts = append(acts, wfAction{Path: path, Field: "action", Value: a, Label: "答复", Text: "答复内容", Required: true, Public: true})
		case "ask_back":
			acts = append(acts, wfAction{Path: path, Field: "action", Value: a, Label: "请求补充", Text: "需要补充的内容", Required: true})
		case "escalate":
			acts = append(acts, wfAction{Path: path, Field: "action", Value: a, Label: "转上级单位", Text: "说明（可选）"})
		case "reply":
			acts = append(acts, wfAction{Path: path, Field: "action", Value: a, Label: "补充或追问", Text: "内容", Required: true})
		case "close":
			acts = append(acts, wfAction{Path: path, Field: "action", Value: a, Label: "关闭咨询", Text: "说明（可选）"})
		}
	}
	return s.render(c, "wf_item.html", v.Title, "/consultations", map[string]any{"M": wfModules["consultations"], "Item": v.Consultation.Item,
		"C": v, "Trail": v.Trail, "Actions": acts})
}

func (s *Service) consultForm(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	st := consultation.Step{Action: c.FormValue("action"), Text: c.FormValue("text"), Public: c.FormValue("public") == "1"}
	if _, err := s.wf.cons.Act(c.Request().Context(), viewerOf(c), id, st); err != nil {
		return err
	}
	return back(c, fmt.Sprintf("/consultations/%d", id), "done")
}

func (s *Service) fileForm(c echo.Context) error {
	f := complaint.Filing{Title: c.FormValue("title"), Body: c.FormValue("body"), About: c.FormValue("about"), Case: c.FormValue("case"),
		To: c.FormValue("to"), Anonymous: c.FormValue("anonymous") == "1"}
	cp, err := s.wf.comps.File(c.Request().Context(), viewerOf(c), f)
	if err != nil {
		return err
	}
	return back(c, fmt.Sprintf("/complaints/%d", cp.ID), "filed")
}

var complaintSteps = map[string]struct {
	label, text   string
	required, bad bool
}{
	complaint.Accepted:   {"受理", "说明（可选）", false, false},
	complaint.InProgress: {"开始办理", "说明（可选）", false, false},
	complaint.Replied:    {"答复", "答复内容", true, false},
	complaint.Closed:     {"办结", "说明（可选）", false, false},
	complaint.Rejected:   {"不予受理", "理由", true, true},
}

func (s *Service) complaintPage(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	v, err := s.wf.comps.Get(c.Request().Context(), viewerOf(c), id)
	if err != nil {
		return err
	}
	var acts []wfAction
	for _, to := range v.Allowed {
		st := complaintSteps[to]
		label := st.label
		if to == complaint.InProgress && v.State == complaint.Replied {
			label = "不满意，重新办理"
		}
		acts = append(acts, wfAction{Path: fmt.Sprintf("/complaints/%d/transition", id), Field: "to", Value: to, Label: label, Text: st.text, Required: st.required, Danger: st.bad})
	}
	return s.render(c, "wf_item.html", v.Title, "/complaints", map[string]any{"M": wfModules["complaints"], "Item": v.Complaint.Item,
		"P": v, "Trail": v.Trail, "Actions": acts})
}

func (s *Service) transitionForm(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	if _, err := s.wf.comps.Transition(c.Request().Context(), viewerOf(c), id, c.FormValue("to"), c.FormValue("text")); err != nil {
		return err
	}
	return back(c, fmt.Sprintf("/complaints/%d", id), "done")
}
