package office

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/internal/web"
	"github.com/xszz/xszz/office/complaint"
	"github.com/xszz/xszz/office/consultation"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/submission"
	"github.com/xszz/xszz/office/workflow"
)

// mountWorkflowAPI serves submissions, consultations, complaints and the
// inbox under /api/v1 (office part II).
func (s *Service) mountWorkflowAPI(api *echo.Group) {
	small := web.LimitBody(64 << 10)
	api.GET("/inbox", s.apiInbox)
	api.GET("/submissions", s.apiSubmissions)
	api.POST("/submissions", s.apiSubmit, web.LimitBody(maxSubmission))
	api.GET("/submissions/published", s.apiPublished)
	api.GET("/submissions/export.csv", s.apiSubmissionsCSV)
	api.GET("/submissions/:id", s.apiSubmission)
	api.POST("/submissions/:id/review", s.apiReview, small)
	api.POST("/submissions/:id/resubmit", s.apiResubmit, web.LimitBody(maxSubmission))
	api.GET("/submissions/:id/images/:n", s.apiSubmissionImage)
	api.GET("/consultations", s.apiConsultations)
	api.POST("/consultations", s.apiAsk, small)
	api.GET("/consultations/search", s.apiSearch)
	api.GET("/consultations/export.csv", s.apiConsultationsCSV)
	api.GET("/consultations/:id", s.apiConsultation)
	for _, a := range []string{"answer", "ask_back", "escalate", "reply", "close"} {
		api.POST("/consultations/:id/"+a, s.apiConsult(a), small)
	}
	api.GET("/complaints", s.apiComplaints)
	api.POST("/complaints", s.apiFileComplaint, small)
	api.GET("/complaints/export.csv", s.apiComplaintsCSV)
	api.GET("/complaints/:id", s.apiComplaint)
	api.POST("/complaints/:id/transition", s.apiTransition, small)
}

// maxSubmission bounds an article with its images, base64 in JSON.
const maxSubmission = submission.MaxImages*submission.MaxImageSize*4/3 + 512<<10

// listQuery reads a list's filters: box, state (comma-separated), org,
// from and to (dates, 2006-01-02, China time; to is inclusive), before
// (the last id of the previous page) and limit.
func listQuery(c echo.Context) (workflow.Query, error) {
	q := workflow.Query{Box: c.QueryParam("box"), OrgID: c.QueryParam("org")}
	if st := strings.TrimSpace(c.QueryParam("state")); st != "" {
		// Each state is a placeholder of the query: repeats add nothing,
		// and no module has more than a handful of states.
		q.States = strings.Split(st, ",")
		slices.Sort(q.States)
		q.States = slices.Compact(q.States)
		if len(q.States) > 10 {
			return q, badRequest("state 最多列出 10 个状态")
		}
	}
	var err error
	if q.Before, err = cursor(c, "before"); err != nil {
		return q, err
	}
	limit, err := cursor(c, "limit")
	if err != nil {
		return q, err
	}
	q.Limit = int(limit)
	for name, dst := range map[string]**time.Time{"from": &q.From, "to": &q.To} {
		v := strings.TrimSpace(c.QueryParam(name))
		if v == "" {
			continue
		}
		t, err := time.ParseInLocation("2006-01-02", v, cst)
		if err != nil {
			return q, badRequest(name + " 须为日期，如 2026-03-01")
		}
		if name == "to" {
			t = t.AddDate(0, 0, 1)
		}
		*dst = &t
	}
	return q, nil
}

// page answers a list with the cursor of the next page.
func listPage[T any](c echo.Context, items []T, limit int, id func(T) int64) error {
	out := map[string]any{"items": items}
	if limit <= 0 || limit > workflow.MaxLimit {
		limit = workflow.DefaultLimit
	}
	if len(items) == limit {
		out["next"] = id(items[len(items)-1])
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Service) apiSubmissions(c echo.Context) error {
	q, err := listQuery(c)
	if err != nil {
		return err
	}
	items, err := s.wf.subs.List(c.Request().Context(), viewerOf(c), q)
	if err != nil {
		return err
	}
	return listPage(c, items, q.Limit, func(x *submission.Submission) int64 { return x.ID })
}

type submissionInput struct {
	Title   string      `json:"title"`
	Body    string      `json:"body"`
	To      string      `json:"to"`
	Comment string      `json:"comment"`
	Images  []fileInput `json:"images"`
}

func (in submissionInput) draft() (submission.Draft, error) {
	d := submission.Draft{Title: in.Title, Body: in.Body, To: in.To}
	if len(in.Images) > submission.MaxImages {
		return d, badRequest("图片最多 5 张")
	}
	for _, f := range in.Images {
		data, err := base64.StdEncoding.DecodeString(f.Data)
		if err != nil {
			return d, badRequest("图片内容须为 base64")
		}
		d.Images = append(d.Images, submission.Upload{Name: f.Name, Data: data})
	}
	return d, nil
}

func (s *Service) apiSubmit(c echo.Context) error {
	var in submissionInput
	if err := decodeJSON(c, &in, false); err != nil {
		return err
	}
	d, err := in.draft()
	if err != nil {
		return err
	}
	sub, err := s.wf.subs.Submit(c.Request().Context(), viewerOf(c), d)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, sub)
}

func (s *Service) apiPublished(c echo.Context) error {
	before, err := cursor(c, "before")
	if err != nil {
		return err
	}
	items, err := s.wf.subs.PublishedFor(c.Request().Context(), viewerOf(c), before, 0)
	if err != nil {
		return err
	}
	return listPage(c, items, 0, func(x *submission.Submission) int64 { return x.ID })
}

func (s *Service) apiSubmission(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	v, err := s.wf.subs.Get(c.Request().Context(), viewerOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

func (s *Service) apiReview(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var in submission.Review
	if err := decodeJSON(c, &in, false); err != nil {
		return err
	}
	sub, err := s.wf.subs.Review(c.Request().Context(), viewerOf(c), id, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sub)
}

func (s *Service) apiResubmit(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var in submissionInput
	if err := decodeJSON(c, &in, false); err != nil {
		return err
	}
	d, err := in.draft()
	if err != nil {
		return err
	}
	sub, err := s.wf.subs.Resubmit(c.Request().Context(), viewerOf(c), id, d, in.Comment)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sub)
}

func (s *Service) apiSubmissionImage(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(c.Param("n"))
	if err != nil || n < 1 || n > submission.MaxImages {
		return web.Errorf(http.StatusNotFound, "not_found", "不存在")
	}
	im, data, err := s.wf.subs.ImageData(c.Request().Context(), viewerOf(c), id, n)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	return c.Blob(http.StatusOK, im.Type, data)
}

func (s *Service) exportCSV(c echo.Context, name string, fn func(ctx context.Context, v directory.Viewer, q workflow.Query, w io.Writer) error) error {
	q, err := listQuery(c)
	if err != nil {
		return err
	}
	return s.writeCSV(c, name, func(w io.Writer) error { return fn(c.Request().Context(), viewerOf(c), q, w) })
}

func (s *Service) apiSubmissionsCSV(c echo.Context) error {
	return s.exportCSV(c, "投稿.csv", s.wf.subs.WriteCSV)
}
func (s *Service) apiConsultationsCSV(c echo.Context) error {
	return s.exportCSV(c, "咨询.csv", s.wf.cons.WriteCSV)
}
func (s *Service) apiComplaintsCSV(c echo.Context) error {
	return s.exportCSV(c, "投诉.csv", s.wf.comps.WriteCSV)
}

func (s *Service) apiConsultations(c echo.Context) error {
	q, err := listQuery(c)
	if err != nil {
		return err
	}
	items, err := s.wf.cons.List(c.Request().Context(), viewerOf(c), q)
	if err != nil {
		return err
	}
	return listPage(c, items, q.Limit, func(x *consultation.Consultation) int64 { return x.ID })
}

func (s *Service) apiAsk(c echo.Context) error {
	var in consultation.Question
	if err := decodeJSON(c, &in, false); err != nil {
		return err
	}
	cs, err := s.wf.cons.Ask(c.Request().Context(), viewerOf(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, cs)
}

func (s *Service) apiSearch(c echo.Context) error {
	before, err := cursor(c, "before")
	if err != nil {
		return err
	}
	items, err := s.wf.cons.Search(c.Request().Context(), viewerOf(c), c.QueryParam("q"), before, 0)
	if err != nil {
		return err
	}
	return listPage(c, items, 0, func(x *consultation.Consultation) int64 { return x.ID })
}

func (s *Service) apiConsultation(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	v, err := s.wf.cons.Get(c.Request().Context(), viewerOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

func (s *Service) apiConsult(action string) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := idParam(c)
		if err != nil {
			return err
		}
		var st consultation.Step
		if err := decodeJSON(c, &st, action == "close" || action == "escalate"); err != nil {
			return err
		}
		st.Action = action
		cs, err := s.wf.cons.Act(c.Request().Context(), viewerOf(c), id, st)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, cs)
	}
}

func (s *Service) apiComplaints(c echo.Context) error {
	q, err := listQuery(c)
	if err != nil {
		return err
	}
	items, err := s.wf.comps.List(c.Request().Context(), viewerOf(c), q)
	if err != nil {
		return err
	}
	return listPage(c, items, q.Limit, func(x *complaint.Complaint) int64 { return x.ID })
}

func (s *Service) apiFileComplaint(c echo.Context) error {
	var in complaint.Filing
	if err := decodeJSON(c, &in, false); err != nil {
		return err
	}
	cp, err := s.wf.comps.File(c.Request().Context(), viewerOf(c), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, cp)
}

func (s *Service) apiComplaint(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	v, err := s.wf.comps.Get(c.Request().Context(), viewerOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

func (s *Service) apiTransition(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var in struct {
		To      string `json:"to"`
		Comment string `json:"comment"`
	}
	if err := decodeJSON(c, &in, false); err != nil {
		return err
	}
	cp, err := s.wf.comps.Transition(c.Request().Context(), viewerOf(c), id, in.To, in.Comment)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cp)
}

func (s *Service) apiInbox(c echo.Context) error {
	in, err := s.inbox(c.Request().Context(), viewerOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, in)
}
