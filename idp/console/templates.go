package console

import (
	"embed"
	"html/template"
	"time"

	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/internal/phone"
)

//go:embed templates/*.html
var templateFS embed.FS

// beijing is China Standard Time; a fixed zone, so the pages do not depend
// on the host's time-zone database.
var beijing = time.FixedZone("CST", 8*3600)

var labels = map[string]string{
	// statuses
	"pending": "待审核", "active": "正常", "disabled": "已停用",
	// roles
	"staff": "工作人员", "admin": "管理员",
	// levels
	"ministry": "部级", "province": "省级", "city": "市级", "county": "县级", "school": "学校", "department": "院系/中心校",
	// grants
	"cockpit": "数字驾驶舱",
	"success": "成功", "failure": "失败",
	// phone conflict sources
	"provision": "管理员开通", "registration": "本人注册",
}

var funcs = template.FuncMap{
	// label turns a code into Chinese; audit event types come from
	// idp/audit's table; unknown codes show as they are.
	"label": func(code string) string {
		if l, ok := labels[code]; ok {
			return l
		}
		return audit.EventLabel(code)
	},
	"details": audit.DetailText,
	"reason":  audit.ReasonLabel,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(beijing).Format("2006-01-02 15:04:05")
	},
	"whenp": func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return t.In(beijing).Format("2006-01-02 15:04")
	},
	"mask": phone.Mask,
}

func parseTemplates() *template.Template {
	return template.Must(template.New("console").Funcs(funcs).ParseFS(templateFS, "templates/*.html"))
}
