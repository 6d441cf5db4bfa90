package office

import "testing"

// The embedded templates, part II's included, parse.
func TestTemplatesParse(t *testing.T) {
	tm := (&Service{}).pages()
	for _, n := range []string{"wf_list.html", "wf_new.html", "wf_item.html", "home.html"} {
		if tm.Lookup(n) == nil {
			t.Errorf("no template %s", n)
		}
	}
}
