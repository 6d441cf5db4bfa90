package office

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/xszz/xszz/internal/web"
	"github.com/xszz/xszz/office/activity"
	"github.com/xszz/xszz/office/contacts"
	"github.com/xszz/xszz/office/directory"
	"github.com/xszz/xszz/office/notice"
)

const viewerKey = "office.viewer"

func viewerOf(c echo.Context) directory.Viewer { return c.Get(viewerKey).(directory.Viewer) }

// requireToken admits requests with an IdP access token for the office's
// audience, verified offline; anything else is 401 with WWW-Authenticate.
func (s *Service) requireToken(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		rp, err := s.relying(c.Request().Context())
		if err != nil {
			return web.Internal(err)
		}
		claims, err := rp.guard.Authenticate(c.Request())
		if err != nil {
			rp.guard.WriteError(c.Response(), err)
			return nil
		}
		v, err := viewerFrom(claims)
		if err != nil {
			return err
		}
		c.Set(viewerKey, v)
		return next(c)
	}
}

func (s *Service) mountAPI(e *echo.Echo) {
	small := web.LimitBody(64 << 10)
	api := e.Group("/api/v1", s.requireToken)
	api.GET("/me", s.apiMe)
	api.PUT("/me/show-phone", s.apiShowPhone, small)
	api.GET("/contacts", s.apiContacts)
	api.GET("/contacts/above", s.apiContactsAbove)
	api.GET("/contacts/export.csv", s.apiContactsCSV)
	api.POST("/contacts/:id/reveal", s.apiReveal, small)
	api.GET("/messages", s.apiMessages)
	api.GET("/notices", s.apiNotices)
	api.POST("/notices", s.apiPublish)
	api.GET("/notices/:id", s.apiNotice)
	api.POST("/notices/:id/read", s.apiRead, small)
	api.POST("/notices/:id/forward", s.apiForward, small)
	api.GET("/notices/:id/receipts", s.apiReceipts)
	api.POST("/notices/:id/remind", s.apiRemind, small)
	api.GET("/files/:id", s.apiFile)
	api.GET("/activities", s.apiActivities)
	api.POST("/activities", s.apiCreateActivity, small)
	api.GET("/activities/:id", s.apiActivity)
	api.POST("/activities/:id/register", s.apiRegister, small)
	api.POST("/activities/:id/checkin", s.apiCheckIn, small)
	api.GET("/activities/:id/code", s.apiCode)
	api.GET("/activities/:id/coverage", s.apiCoverage)
	api.GET("/activities/:id/coverage.csv", s.apiCoverageCSV)
	s.mountWorkflowAPI(api)
}

func badRequest(msg string) error { return web.Errorf(http.StatusBadRequest, "invalid_request", msg) }

// decodeJSON reads a JSON body strictly: the right media type, known
// fields only, the right types, one value. An empty body is an empty
// object when allowEmpty.
func decodeJSON(c echo.Context, v any, allowEmpty bool) error {
	// The route's LimitBody bounds the body; a misspelt field is an error.
	return web.DecodeJSON(c, v, web.JSONBody{Strict: true, Optional: allowEmpty})
}

func idParam(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, web.Errorf(http.StatusNotFound, "not_found", "不存在")
	}
	return id, nil
}

func cursor(c echo.Context, name string) (int64, error) {
	v := c.QueryParam(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest(name + " 须为非负整数")
	}
	return n, nil
}

func (s *Service) apiMe(c echo.Context) error {
	v := viewerOf(c)
	return c.JSON(http.StatusOK, map[string]any{
		"sub": v.Sub, "name": v.Name, "roles": v.Roles,
		"org": map[string]any{"id": v.OrgID, "name": v.OrgName, "level": v.Level, "path": directory.PathIDs(v.Path)},
	})
}

// apiShowPhone records the caller's choice to show their full number to
// everyone who can see them in the contacts.
func (s *Service) apiShowPhone(c echo.Context) error {
	var in struct {
		Show *bool `json:"show"`
	}
	if err := decodeJSON(c, &in, false); err != nil {
		return err
	}
	if in.Show == nil {
		return badRequest("请给出 show（true 或 false）")
	}
	if err := s.setShowPhone(c, *in.Show); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]bool{"show": *in.Show})
}

func (s *Service) setShowPhone(c echo.Context, show bool) error {
	err := s.dir.SetShowPhone(c.Request().Context(), viewerOf(c).Sub, show)
	if errors.Is(err, directory.ErrNotFound) {
		// Not synced yet: the next sync (asked for now) brings the person.
		s.requestSync()
		return web.Errorf(http.StatusConflict, "conflict", "通讯录正在同步，请稍后再试")
	}
	return err
}

func (s *Service) apiContacts(c echo.Context) error {
	limit := directory.DefaultPage
	if l := c.QueryParam("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > directory.MaxPage {
			return badRequest(fmt.Sprintf("limit 须为 1–%d 的整数", directory.MaxPage))
		}
		limit = n
	}
	v := viewerOf(c)
	q, err := s.contactsQuery(c, v, limit)
	if err != nil {
		return err
	}
	items, next, err := s.contacts.List(c.Request().Context(), v, q)
	if err != nil {
		return err
	}
	out := map[string]any{"items": items}
	if next != nil {
		if out["next_cursor"], err = s.cursors.Encode(next, contactsScope(v, q)...); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusOK, out)
}

// contactsQuery reads a contacts query (org, q) and the cursor of its
// page, which must be one given to this viewer for this very query.
func (s *Service) contactsQuery(c echo.Context, v directory.Viewer, limit int) (contacts.Query, error) {
	q := contacts.Query{OrgID: c.QueryParam("org"), Text: strings.TrimSpace(c.QueryParam("q")), Limit: limit}
	if raw := c.QueryParam("cursor"); raw != "" {
		var pos directory.Position
		if err := s.cursors.Decode(raw, &pos, contactsScope(v, q)...); err != nil {
			return q, contacts.BadCursor()
		}
		q.After = &pos
	}
	return q, nil
}

// contactsScope binds a cursor to who asked (their unit too: a person
// moved starts again) and what.
func contactsScope(v directory.Viewer, q contacts.Query) []string {
	return []string{v.Sub, v.Path, q.OrgID, q.Text}
}

func (s *Service) apiContactsAbove(c echo.Context) error {
	pts, err := s.contacts.Above(c.Request().Context(), viewerOf(c))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": pts})
}

func (s *Service) apiContactsCSV(c echo.Context) error {
	return s.writeCSV(c, "通讯录.csv", func(w io.Writer) error { return s.contacts.WriteCSV(c.Request().Context(), viewerOf(c), w) })
}

// writeCSV renders to memory first, so a refusal or failure half-way is
// still a clean error answer rather than a truncated file.
func (s *Service) writeCSV(c echo.Context, name string, fn func(io.Writer) error) error {
	var b strings.Builder
	b.WriteString("\ufeff") // so spreadsheet programs read UTF-8
	if err := fn(&b); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Content-Disposition", "attachment; filename*=UTF-8''"+strings.ReplaceAll(urlEscape(name), "+", "%20"))
	h.Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", []byte(b.String()))
}

func (s *Service) apiReveal(c echo.Context) error {
	p, err := s.contacts.Reveal(c.Request().Context(), viewerOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"phone": p})
}

func (s *Service) apiMessages(c echo.Context) error {
	ms, err := s.notices.Messages(c.Request().Context(), viewerOf(c), 50)
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []notice.Message{}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": ms})
}

func (s *Service) apiNotices(c echo.Context) error {
	before, err := cursor(c, "before")
	if err != nil {
		return err
	}
	items, err := s.notices.List(c.Request().Context(), viewerOf(c), before, 20)
	if err != nil {
		return err
	}
	if items == nil {
		items = []notice.Item{}
	}
	out := map[string]any{"items": items}
	if len(items) == 20 {
		out["next"] = items[len(items)-1].ID
	}
	return c.JSON(http.StatusOK, out)
}

// noticeInput is a publication or forward as the API takes it.
type noticeInput struct {
	Title          string           `json:"title"`
	Body           string           `json:"body"`
	Note           string           `json:"note"`
	Deadline       *time.Time       `json:"deadline"`
	RequireConfirm bool             `json:"require_confirm"`
	Target         directory.Target `json:"target"`
	// Files are attachments, base64 in JSON; multipart forms send them
	// as file parts instead.
	Files []fileInput `json:"files"`
}

type fileInput struct {
	Name string `json:"name"`
	Data string `json:"data"`
}

// maxUpload bounds a notice with its attachments.
const maxUpload = notice.MaxFiles*notice.MaxFileSize + 1<<20

func (s *Service) readNotice(c echo.Context) (notice.Draft, error) {
	var in noticeInput
	var files []notice.Upload
	form, err := multipartForm(c)
	switch {
	case err != nil:
		return notice.Draft{}, err
	case form != nil:
		if err := json.Unmarshal([]byte(first(form.Value["notice"])), &in); err != nil {
			return notice.Draft{}, badRequest("notice 字段须为通知的 JSON")
		}
		if files, err = readFiles(form, "files", notice.MaxFileSize, "附件大小应在 10 MB 以内", noticeUpload); err != nil {
			return notice.Draft{}, err
		}
	default:
		if err := decodeJSON(c, &in, false); err != nil {
			return notice.Draft{}, err
		}
	}
	for _, f := range in.Files {
		data, err := base64.StdEncoding.DecodeString(f.Data)
		if err != nil {
			return notice.Draft{}, badRequest("附件内容须为 base64")
		}
		files = append(files, notice.Upload{Name: f.Name, Data: data})
	}
	if len(files) > notice.MaxFiles {
		return notice.Draft{}, badRequest("附件最多 5 个")
	}
	return notice.Draft{Title: in.Title, Body: in.Body, Note: in.Note, Deadline: in.Deadline, RequireConfirm: in.RequireConfirm, Target: in.Target, Files: files}, nil
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func (s *Service) apiPublish(c echo.Context) error {
	d, err := s.readNotice(c)
	if err != nil {
		return err
	}
	n, err := s.notices.Publish(c.Request().Context(), viewerOf(c), d)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, n)
}

func (s *Service) apiNotice(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	v, err := s.notices.Get(c.Request().Context(), viewerOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

func (s *Service) apiRead(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var in struct {
		Confirm bool `json:"confirm"`
	}
	if err := decodeJSON(c, &in, true); err != nil {
		return err
	}
	mark := s.notices.MarkRead
	if in.Confirm {
		mark = s.notices.Confirm
	}
	r, err := mark(c.Request().Context(), viewerOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

func (s *Service) apiForward(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var in struct {
		Note     string           `json:"note"`
		Deadline *time.Time       `json:"deadline"`
		Target   directory.Target `json:"target"`
	}
	if err := decodeJSON(c, &in, false); err != nil {
		return err
	}
	n, err := s.notices.Forward(c.Request().Context(), viewerOf(c), id, notice.Draft{Note: in.Note, Deadline: in.Deadline, Target: in.Target})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, n)
}

func (s *Service) apiReceipts(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	r, err := s.notices.Receipts(c.Request().Context(), viewerOf(c), id, c.QueryParam("org"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

func (s *Service) apiRemind(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	n, err := s.notices.Remind(c.Request().Context(), viewerOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]int{"reminded": n})
}

func (s *Service) apiFile(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	return s.sendFile(c, viewerOf(c), id)
}

func (s *Service) sendFile(c echo.Context, v directory.Viewer, id int64) error {
	f, fh, err := s.notices.Open(c.Request().Context(), v, id)
	if err != nil {
		return err
	}
	defer fh.Close()
	h := c.Response().Header()
	// Always a download, never rendered in the office's origin.
	h.Set("Content-Disposition", "attachment; filename*=UTF-8''"+strings.ReplaceAll(urlEscape(f.Name), "+", "%20"))
	h.Set("Cache-Control", "private, no-store")
	return c.Stream(http.StatusOK, f.Type, fh)
}

func (s *Service) apiActivities(c echo.Context) error {
	before, err := cursor(c, "before")
	if err != nil {
		return err
	}
	items, err := s.acts.List(c.Request().Context(), viewerOf(c), before, 20)
	if err != nil {
		return err
	}
	if items == nil {
		items = []*activity.Activity{}
	}
	out := map[string]any{"items": items}
	if len(items) == 20 {
		out["next"] = items[len(items)-1].ID
	}
	return c.JSON(http.StatusOK, out)
}

type activityInput struct {
	Title        string           `json:"title"`
	Kind         string           `json:"kind"`
	Place        string           `json:"place"`
	Link         string           `json:"link"`
	Description  string           `json:"description"`
	StartsAt     time.Time        `json:"starts_at"`
	EndsAt       time.Time        `json:"ends_at"`
	RegOpens     time.Time        `json:"registration_opens"`
	RegCloses    time.Time        `json:"registration_closes"`
	SigninOpens  time.Time        `json:"signin_opens"`
	SigninCloses time.Time        `json:"signin_closes"`
	Target       directory.Target `json:"target"`
}

func (in activityInput) activity() activity.Activity {
	return activity.Activity{Title: in.Title, Kind: in.Kind, Place: in.Place, Link: in.Link, Description: in.Description,
		StartsAt: in.StartsAt, EndsAt: in.EndsAt, RegOpens: in.RegOpens, RegCloses: in.RegCloses,
		SigninOpens: in.SigninOpens, SigninCloses: in.SigninCloses, Target: in.Target}
}

func (s *Service) apiCreateActivity(c echo.Context) error {
	var in activityInput
	if err := decodeJSON(c, &in, false); err != nil {
		return err
	}
	a, err := s.acts.Create(c.Request().Context(), viewerOf(c), in.activity())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, a)
}

func (s *Service) apiActivity(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	ctx, v := c.Request().Context(), viewerOf(c)
	a, err := s.acts.Get(ctx, v, id)
	if err != nil {
		return err
	}
	st, err := s.acts.Status(ctx, v, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"activity": a, "registration": st, "organiser": a.Organiser(v)})
}

func (s *Service) apiRegister(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	r, err := s.acts.Register(c.Request().Context(), viewerOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

func (s *Service) apiCheckIn(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var in struct {
		Code string `json:"code"`
	}
	if err := decodeJSON(c, &in, false); err != nil {
		return err
	}
	r, err := s.acts.CheckIn(c.Request().Context(), viewerOf(c), id, in.Code)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// signInCode is the organiser's screen data: the code, when it rotates,
// and a QR code of the sign-in link carrying it.
type signInCode struct {
	Code      string    `json:"code"`
	RotatesAt time.Time `json:"rotates_at"`
	URL       string    `json:"url"`
	QR        string    `json:"qr_png"` // data: URL
}

func (s *Service) code(c echo.Context, v directory.Viewer, id int64) (signInCode, error) {
	code, rotates, err := s.acts.CurrentCode(c.Request().Context(), v, id)
	if err != nil {
		return signInCode{}, err
	}
	u := fmt.Sprintf("%s/activities/%d/checkin?code=%s", s.cfg.URL, id, code)
	png, err := qrcode.Encode(u, qrcode.Medium, 320)
	if err != nil {
		return signInCode{}, fmt.Errorf("qr code: %w", err)
	}
	return signInCode{Code: code, RotatesAt: rotates, URL: u, QR: "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)}, nil
}

func (s *Service) apiCode(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	sc, err := s.code(c, viewerOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sc)
}

func (s *Service) apiCoverage(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	cov, err := s.acts.Coverage(c.Request().Context(), viewerOf(c), id, c.QueryParam("org"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cov)
}

func (s *Service) apiCoverageCSV(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	return s.writeCSV(c, "参会情况.csv", func(w io.Writer) error {
		return s.acts.WriteCSV(c.Request().Context(), viewerOf(c), id, c.QueryParam("org"), w)
	})
}
