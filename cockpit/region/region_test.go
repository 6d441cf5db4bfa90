package region

import "testing"

func TestTreeSpecialUnits(t *testing.T) {
	tr, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		code, parent string
		level        Level
	}{
		{"110000", NationCode, Province},
		{"110101", "110000", County}, // municipality: district directly below
		{"500229", "500000", County}, // 重庆's counties too
		{"419001", "410000", County}, // directly administered county
		{"210200", "210000", City},   // 大连 stays inside 辽宁
		{"660000", NationCode, Province},
		{"659001", CorpsCode, County}, // 石河子 reports to the Corps
		{CentralCode, NationCode, Province},
		{"441900", "440000", City}, // 东莞 is its own leaf
		{"130102", "130100", County},
	}
	for _, c := range cases {
		n := tr.Get(c.code)
		if n == nil {
			t.Fatalf("%s missing", c.code)
		}
		if n.Level != c.level || n.Parent.Code != c.parent {
			t.Errorf("%s %s: level %v parent %s, want %v %s", c.code, n.Name, n.Level, n.Parent.Code, c.level, c.parent)
		}
	}
	for _, gone := range []string{"110100", "500200", "419000", "659000"} {
		if tr.Get(gone) != nil {
			t.Errorf("placeholder %s is in the tree", gone)
		}
	}
	if len(tr.Planned) != 5 || !tr.Get("440300").Planned {
		t.Errorf("planned cities: %d", len(tr.Planned))
	}
	if got := len(tr.Root.Children); got != 33 { // 31 + Corps + central universities
		t.Errorf("province-level units: %d", got)
	}
	if got := len(tr.Rows(tr.Root)); got != 38 {
		t.Errorf("nation rows: %d", got)
	}
	if !tr.Within(tr.Get("210202"), tr.Get("210000")) || tr.Within(tr.Get("210202"), tr.Get("220000")) {
		t.Error("Within is wrong")
	}
	for _, n := range tr.All() {
		if n.Level != Nation && n.Leaf() && n.Level < City && n.Code != CentralCode {
			t.Errorf("%s %s: empty province", n.Code, n.Name)
		}
	}
	if n := len(tr.Leaves(tr.Root)); n < 2900 {
		t.Errorf("leaves: %d", n)
	}
}
