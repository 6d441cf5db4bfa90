package web

import (
	"html/template"
	"time"
)

// china is the time zone every page shows: the users are all in one.
var china = time.FixedZone("CST", 8*3600)

// Funcs are the template functions the shared layout and the services'
// pages use.
var Funcs = template.FuncMap{
	// datetime formats a time (or Unix seconds) as 2006-01-02 15:04 in
	// China Standard Time; the zero time is shown as "—".
	"datetime": func(v any) string { return formatTime(v, "2006-01-02 15:04") },
	"date":     func(v any) string { return formatTime(v, "2006-01-02") },
}

func formatTime(v any, layout string) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x != nil {
			t = *x
		}
	case int64:
		if x != 0 {
			t = time.Unix(x, 0)
		}
	}
	if t.IsZero() {
		return "—"
	}
	return t.In(china).Format(layout)
}

// NavItem is one link of a page's header.
type NavItem struct {
	Href, Label string
	Active      bool
}
