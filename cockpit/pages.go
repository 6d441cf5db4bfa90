package cockpit

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/cockpit/catalog"
	"github.com/xszz/xszz/cockpit/dash"
	"github.com/xszz/xszz/cockpit/warning"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/web"
	"github.com/xszz/xszz/sdk"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

func parsePages() (*template.Template, error) {
	t, err := web.Layout().Funcs(pageFuncs).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("cockpit pages: %w", err)
	}
	return t, nil
}

var pageFuncs = template.FuncMap{
	"cell":    cell,
	"numeric": numeric,
	"kpi":     kpiValue,
}

// cell formats a table cell: whole numbers with thousands separators,
// rates with two decimals.
func cell(v any) string {
	switch x := v.(type) {
	case int64:
		return group(x)
	case int:
		return group(int64(x))
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return group(int64(x))
		}
		return strconv.FormatFloat(x, 'f', 2, 64)
	case nil:
		return "—"
	}
	return fmt.Sprint(v)
}

func numeric(v any) bool {
	switch v.(type) {
	case int64, int, float64:
		return true
	}
	return false
}

func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// kpiValue shows a headline figure the way a reader takes it in at a
// glance: 元 in 万元 or 亿元, counts in 万 beyond ten thousand.
func kpiValue(k dash.KPI) [2]string {
	v, u := kpiSplit(k)
	return [2]string{v, u}
}

func kpiSplit(k dash.KPI) (string, string) {
	switch {
	case k.Unit == "%":
		return strconv.FormatFloat(k.Value, 'f', 2, 64), "%"
	case k.Value >= 1e8:
		return strconv.FormatFloat(k.Value/1e8, 'f', 2, 64), "亿" + k.Unit
	case k.Value >= 1e4:
		return strconv.FormatFloat(k.Value/1e4, 'f', 2, 64), "万" + k.Unit
	}
	return group(int64(k.Value)), k.Unit
}

// plots names the columns each chart draws (the table shows them all):
// one measure, or several of one unit side by side.
var plots = map[string][]int{
	"overview/trend": {1, 2}, "overview/segment": {2}, "overview/stage": {2}, "overview/programme": {2},
	"overview/source": {2}, "overview/ranking": {2},
	"needy/level": {1}, "needy/category": {1}, "needy/stage": {2, 4}, "needy/ranking": {1},
	"aided/programme": {1}, "aided/coverage": {2, 3}, "aided/ranking": {1},
	"funds/source": {1, 2}, "funds/programme": {1, 2}, "funds/ranking": {1},
	"warnings/rules": {1, 2, 3}, "warnings/ranking": {1, 2},
}

// pageData is what every cockpit page's layout reads.
type pageData struct {
	Title, Site string
	Nav         []web.NavItem
	User        string
}

func (s *Service) frame(c echo.Context, title, active string) pageData {
	p := pageData{Title: title, Site: site}
	q := keep(c, "region", "year", "segment")
	for _, n := range dash.Names {
		p.Nav = append(p.Nav, web.NavItem{Href: "/" + n.Code + q, Label: n.Title, Active: n.Code == active})
	}
	if cl, ok := c.Get(claimsKey).(*sdk.Claims); ok {
		p.User = who(cl)
	}
	return p
}

// who names the signed-in person by unit and name for the header.
func who(c *sdk.Claims) string {
	var parts []string
	if c.Org != nil && c.Org.Name != "" {
		parts = append(parts, c.Org.Name)
	}
	if c.Name != "" {
		parts = append(parts, c.Name)
	}
	return strings.Join(parts, " · ")
}

// keep returns the query string with only the named parameters.
func keep(c echo.Context, names ...string) string {
	v := url.Values{}
	for _, n := range names {
		if x := c.QueryParam(n); x != "" {
			v.Set(n, x)
		}
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

const claimsKey = "cockpit.claims"

// signedIn admits page requests with a live session of an account that
// may enter; others are sent to sign in, or shown why they may not.
func (s *Service) signedIn(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		claims, err := s.auth.Page(c.Request())
		if errors.Is(err, errSignedOut) {
			if c.Request().Method != http.MethodGet && c.Request().Method != http.MethodHead {
				return web.Errorf(http.StatusUnauthorized, "unauthorized", "登录已失效，请重新登录")
			}
			return c.Redirect(http.StatusFound, "/login?return_to="+url.QueryEscape(c.Request().URL.RequestURI()))
		}
		if err != nil {
			return &web.Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "统一身份认证服务暂不可用，请稍后再试", Cause: err}
		}
		c.Set(claimsKey, claims)
		v, ok := viewerOf(s.tree, claims)
		if !ok {
			p := s.frame(c, "无权访问", "")
			p.Nav = nil
			web.Render(c, s.pages, http.StatusForbidden, "forbidden.html", map[string]any{"Page": p, "Title": p.Title, "Site": p.Site, "User": p.User, "Reason": refusal(claims)})
			return nil
		}
		c.Set(viewerKey, v)
		return next(c)
	}
}

// refusal says why an account may not enter, in the words of the rule.
func refusal(c *sdk.Claims) string {
	switch {
	case c.Org == nil:
		return "您的账号尚未归属任何单位。"
	case !c.Org.AtLeast(sdk.LevelCounty):
		return "数字驾驶舱仅向教育部、省、市、县（区）四级资助管理单位开放，您所在的单位不在此范围内。"
	case !c.HasGrant(Grant):
		return "您的账号尚未获得数字驾驶舱访问授权。"
	}
	return "您所在单位的行政区划不在驾驶舱的统计范围内。"
}

// home sends a signed-in visitor to the overview, and shows anyone else
// the way in: the IdP's sign-in, never a dead end.
func (s *Service) home(c echo.Context) error {
	claims, err := s.auth.Page(c.Request())
	if err == nil && claims != nil {
		return c.Redirect(http.StatusFound, "/overview")
	}
	if err != nil && !errors.Is(err, errSignedOut) {
		s.d.Log.Warn("cockpit: session check failed", "err", err)
	}
	web.Render(c, s.pages, http.StatusOK, "home.html", map[string]any{"Title": "数字驾驶舱", "Site": site})
	return nil
}

// chartView is one chart of a page: the dashboard's chart, how to draw
// it and where its CSV is.
type chartView struct {
	dash.Chart
	Plot   string
	CSV    string
	Drill  []string // per row: the link that drills into its region, or ""
	Record []string // per row of the warnings list: its records page
}

func (s *Service) dashboardPage(name string) echo.HandlerFunc {
	return func(c echo.Context) error { return s.renderDashboard(c, name) }
}

func (s *Service) renderDashboard(c echo.Context, name string) error {
	v := c.Get(viewerKey).(dash.Viewer)
	r, err := request(c)
	if err != nil {
		return err
	}
	d, err := s.q.Get(c.Request().Context(), v, name, r)
	if err != nil {
		return asHTTP(err)
	}
	base := url.Values{}
	base.Set("year", strconv.Itoa(d.Year))
	base.Set("segment", d.Segment)
	views := make([]chartView, len(d.Charts))
	for i, ch := range d.Charts {
		cv := chartView{Chart: ch}
		if ch.Kind != "table" {
			cols := plots[name+"/"+ch.ID]
			if cols == nil {
				cols = []int{1}
			}
			ss := make([]string, len(cols))
			for j, x := range cols {
				ss[j] = strconv.Itoa(x)
			}
			cv.Plot = strings.Join(ss, ",")
		}
		q := url.Values{"chart": {ch.ID}, "region": {d.Region.Code}, "year": {strconv.Itoa(d.Year)}, "segment": {d.Segment}}
		cv.CSV = "/export/" + name + ".csv?" + q.Encode()
		for _, code := range ch.Regions {
			q := url.Values{"region": {code}, "year": base["year"], "segment": base["segment"]}
			cv.Drill = append(cv.Drill, "/"+name+"?"+q.Encode())
		}
		for _, id := range ch.Warnings {
			cv.Record = append(cv.Record, "/warnings/"+strconv.FormatInt(id, 10))
		}
		views[i] = cv
	}
	crumbs := make([]crumb, len(d.Breadcrumb))
	for i, b := range d.Breadcrumb {
		q := url.Values{"region": {b.Code}, "year": base["year"], "segment": base["segment"]}
		crumbs[i] = crumb{Name: b.Name, Href: "/" + name + "?" + q.Encode(), Current: i == len(d.Breadcrumb)-1}
	}
	segs := []option{{"all", "全部学段", d.Segment == "all"}}
	for _, sg := range catalog.Segments {
		segs = append(segs, option{string(sg), catalog.SegmentName[sg], d.Segment == string(sg)})
	}
	var years []option
	for _, y := range slices.Backward(d.Years) {
		years = append(years, option{strconv.Itoa(y), strconv.Itoa(y) + " 年度", y == d.Year})
	}
	p := s.frame(c, d.Title, name)
	web.Render(c, s.pages, http.StatusOK, "dashboard.html", map[string]any{
		"Title": p.Title, "Site": p.Site, "Nav": p.Nav, "User": p.User,
		"D": d, "Charts": views, "Crumbs": crumbs, "Segments": segs, "Years": years,
		"Level": levelName(d.Region.Level), "SegmentName": segmentName(d.Segment),
	})
	return nil
}

type crumb struct {
	Name, Href string
	Current    bool
}

type option struct {
	Value, Label string
	Selected     bool
}

func levelName(l string) string {
	switch l {
	case "nation":
		return "全国"
	case "province":
		return "省级"
	case "city":
		return "市级"
	case "county":
		return "县级"
	}
	return l
}

func segmentName(s string) string {
	if n, ok := catalog.SegmentName[catalog.Segment(s)]; ok {
		return n
	}
	return "全部学段"
}

// exportCSV is the pages' CSV export: the API's, under the session.
func (s *Service) exportCSV(c echo.Context) error {
	name := strings.TrimSuffix(c.Param("file"), ".csv")
	if dash.Title(name) == "" {
		return echo.ErrNotFound
	}
	v := c.Get(viewerKey).(dash.Viewer)
	r, err := request(c)
	if err != nil {
		return err
	}
	d, err := s.q.Get(c.Request().Context(), v, name, r)
	if err != nil {
		return asHTTP(err)
	}
	return writeCSV(c, d, c.QueryParam("chart"))
}

// fieldNames label the fields of a warning's records.
var fieldNames = []struct{ key, name string }{
	{"stage", "教育阶段"}, {"school_id", "学校编号"}, {"level_name", "困难等级"}, {"categories", "困难类别"},
	{"programme", "资助项目"}, {"source", "资金来源"}, {"paid_on", "发放日期"}, {"amount", "金额(元)"},
	{"due_on", "应发放日期"}, {"allocated", "下达金额(元)"}, {"disbursed", "已发放(元)"},
}

func fieldValue(key string, v any) any {
	s, _ := v.(string)
	switch key {
	case "school_id":
		return fmt.Sprint(v) // an identifier, not a quantity
	case "stage":
		if st, ok := catalog.StageOf(s); ok {
			return st.Name
		}
	case "programme":
		if p, ok := catalog.ProgrammeOf(s); ok {
			return p.Name
		}
	case "source":
		for _, x := range catalog.Sources {
			if x.Code == s {
				return x.Name
			}
		}
	case "categories":
		if xs, ok := v.([]string); ok {
			return strings.Join(xs, "、")
		}
	}
	switch x := v.(type) {
	case int:
		return int64(x)
	case int32:
		return int64(x)
	}
	return v
}

func (s *Service) warningPage(c echo.Context) error {
	v := c.Get(viewerKey).(dash.Viewer)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		s.warningGone(c, 0, warning.Warning{})
		return nil
	}
	x, recs, err := s.q.WarningRecords(c.Request().Context(), v, id, 1000)
	switch {
	case errors.Is(err, warning.ErrResolved):
		s.warningGone(c, id, x)
		return nil
	case errors.Is(err, sqldb.ErrNotFound):
		s.warningGone(c, id, warning.Warning{})
		return nil
	case err != nil:
		return asHTTP(err)
	}
	var cols []string
	var keys []string
	for _, f := range fieldNames {
		for _, r := range recs {
			if _, ok := r.Fields[f.key]; ok {
				cols, keys = append(cols, f.name), append(keys, f.key)
				break
			}
		}
	}
	rows := make([][]any, len(recs))
	for i, r := range recs {
		row := []any{r.Subject}
		for _, k := range keys {
			row = append(row, fieldValue(k, r.Fields[k]))
		}
		rows[i] = row
	}
	p := s.frame(c, "预警明细", "warnings")
	web.Render(c, s.pages, http.StatusOK, "warning.html", map[string]any{
		"Title": p.Title, "Site": p.Site, "Nav": p.Nav, "User": p.User,
		"W": x, "Rule": warning.RuleName(x.Rule), "Severity": warning.SeverityName(x.Severity), "Sev": x.Severity,
		"Region": s.regionName(x.Region), "Segment": segmentName(x.Segment),
		"Columns": append([]string{"对象编号(匿名)"}, cols...), "Rows": rows, "Back": warningsList(x),
	})
	return nil
}

// warningGone answers a link to a warning that is not there (404): one
// resolved since (x, in the viewer's scope) is named with the day it was
// found resolved and a way to its region's warnings; any other id, out
// of scope included, gets the same page whether or not it ever existed,
// with a way to the viewer's own warnings.
func (s *Service) warningGone(c echo.Context, id int64, x warning.Warning) {
	p := s.frame(c, "预警已不存在", "warnings")
	data := map[string]any{"Title": p.Title, "Site": p.Site, "Nav": p.Nav, "User": p.User, "ID": id, "Back": "/warnings"}
	if x.ResolvedOn != "" {
		p.Title = "预警已解除"
		data["Title"], data["W"], data["Back"] = p.Title, x, warningsList(x)
		data["Rule"], data["Severity"], data["Sev"] = warning.RuleName(x.Rule), warning.SeverityName(x.Severity), x.Severity
		data["Region"], data["Segment"] = s.regionName(x.Region), segmentName(x.Segment)
	}
	web.Render(c, s.pages, http.StatusNotFound, "warning-gone.html", data)
}

// warningsList is the warnings dashboard of a warning's region and year.
func warningsList(x warning.Warning) string {
	return "/warnings?" + url.Values{"region": {x.Region}, "year": {strconv.Itoa(x.Year)}}.Encode()
}

// regionName names a leaf with its city ("成都市 锦江区").
func (s *Service) regionName(code string) string {
	n := s.tree.Get(code)
	if n == nil {
		return code
	}
	if n.Parent != nil && n.Parent.Parent != nil {
		return n.Parent.Name + " " + n.Name
	}
	return n.Name
}
