// Package region holds the reporting tree of the student-aid system: the
// nation, the provinces and province-level units, cities and counties, built
// from the NBS statistical division codes embedded under data/.
//
// The tree is the reporting hierarchy, not pure geography:
//   - Placeholder cities (市辖区, 县, 省直辖县级行政区划, …) are dropped and
//     their counties hang directly below the province, so the four
//     municipalities and the directly administered counties have no empty
//     city level in a drill-down.
//   - The five 计划单列市 stay cities inside their province (their numbers
//     are part of the province's totals) and are also listed with the
//     province-level units under the nation (Planned), where the ministry
//     sees them beside the provinces; they are never added to the national
//     total a second time.
//   - 新疆生产建设兵团 (660000) is a province-level unit; the Corps cities
//     (659001…, filed under 新疆 as 自治区直辖县级行政区划) report to it.
//   - 中央部门所属高校 (CentralCode) is a province-level unit reporting
//     straight to the ministry; central universities' students sit there
//     and in no province.
//   - A city with a single county row carrying its own code (东莞, 中山,
//     儋州) is a leaf itself.
package region

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/xszz/xszz/internal/divisions"
)

// Level is a node's place in the reporting tree.
type Level int

const (
	Nation Level = iota
	Province
	City
	County
)

func (l Level) String() string {
	switch l {
	case Nation:
		return "nation"
	case Province:
		return "province"
	case City:
		return "city"
	case County:
		return "county"
	}
	return "unknown"
}

// Codes of the units that are not in the NBS province list.
const (
	NationCode  = "000000"
	CorpsCode   = "660000"
	CentralCode = "990000"
)

// Node is one unit of the tree.
type Node struct {
	Code   string
	Name   string
	Level  Level
	Parent *Node
	// Children are the units reporting to this one, in code order; for the
	// nation they are the province-level units only (not Planned).
	Children []*Node
	// Planned marks the five 计划单列市.
	Planned bool
	// Municipality marks 北京, 天津, 上海, 重庆.
	Municipality bool
	index        int // position in Tree.all, for leaf ranges
	end          int // one past the last descendant in Tree.all
}

// Leaf reports whether nothing reports to the node.
func (n *Node) Leaf() bool { return len(n.Children) == 0 }

// Path returns the nodes from the nation down to n.
func (n *Node) Path() []*Node {
	var p []*Node
	for x := n; x != nil; x = x.Parent {
		p = append(p, x)
	}
	slices.Reverse(p)
	return p
}

// Tree is the whole reporting tree.
type Tree struct {
	Root   *Node
	byCode map[string]*Node
	all    []*Node // pre-order: a node's descendants follow it contiguously
	// Planned lists the five 计划单列市 in code order.
	Planned []*Node
}

var placeholders = map[string]bool{"市辖区": true, "县": true, "省直辖县级行政区划": true, "自治区直辖县级行政区划": true}

// Load builds the tree from the embedded reference data.
func Load() (*Tree, error) {
	provs, err := divisions.Provinces()
	if err != nil {
		return nil, err
	}
	cities, err := divisions.Cities()
	if err != nil {
		return nil, err
	}
	counties, err := divisions.Counties()
	if err != nil {
		return nil, err
	}
	t := &Tree{byCode: map[string]*Node{}}
	t.Root = &Node{Code: NationCode, Name: "全国", Level: Nation}
	t.byCode[NationCode] = t.Root
	add := func(n *Node, parent *Node) {
		n.Parent = parent
		parent.Children = append(parent.Children, n)
		t.byCode[n.Code] = n
	}
	var planned []string
	for _, p := range provs {
		code, name := p.Code, p.Name
		if !strings.HasSuffix(code, "0000") {
			planned = append(planned, code) // a 计划单列市: a city below, marked later
			continue
		}
		n := &Node{Code: code, Name: name, Level: Province}
		switch code[:2] {
		case "11", "12", "31", "50":
			n.Municipality = true
		}
		add(n, t.Root)
	}
	add(&Node{Code: CentralCode, Name: "中央部门所属高校", Level: Province}, t.Root)
	// cityOf maps an NBS city code to the node its counties report to.
	cityOf := map[string]*Node{}
	for _, c := range cities {
		code, name, prov := c.Code, c.Name, c.Parent
		pn := t.byCode[prov]
		if pn == nil {
			return nil, fmt.Errorf("city %s: unknown province %s", code, prov)
		}
		if code == "659000" {
			cityOf[code] = t.byCode[CorpsCode]
			continue
		}
		if placeholders[name] {
			cityOf[code] = pn
			continue
		}
		n := &Node{Code: code, Name: name, Level: City}
		add(n, pn)
		cityOf[code] = n
	}
	for _, c := range counties {
		code, name, city := c.Code, c.Name, c.Parent
		parent := cityOf[city]
		if parent == nil {
			return nil, fmt.Errorf("county %s: unknown city %s", code, city)
		}
		if code == city {
			continue // the city is the county (东莞, 中山, 儋州)
		}
		add(&Node{Code: code, Name: name, Level: County}, parent)
	}
	for _, code := range planned {
		n := t.byCode[code]
		if n == nil || n.Level != City {
			return nil, fmt.Errorf("计划单列市 %s is not a city", code)
		}
		n.Planned = true
		t.Planned = append(t.Planned, n)
	}
	var walk func(n *Node)
	walk = func(n *Node) {
		slices.SortFunc(n.Children, func(a, b *Node) int { return strings.Compare(a.Code, b.Code) })
		n.index = len(t.all)
		t.all = append(t.all, n)
		for _, c := range n.Children {
			walk(c)
		}
		n.end = len(t.all)
	}
	walk(t.Root)
	return t, nil
}

// MustLoad is Load for package initialisation; the data is embedded, so a
// failure is a build defect.
func MustLoad() *Tree {
	t, err := Load()
	if err != nil {
		panic(err)
	}
	return t
}

// Get returns the node with the code, or nil.
func (t *Tree) Get(code string) *Node { return t.byCode[code] }

// Within reports whether node is ancestor itself or lies below it.
func (t *Tree) Within(node, ancestor *Node) bool {
	return node != nil && ancestor != nil && node.index >= ancestor.index && node.index < ancestor.end
}

// Leaves returns the leaves below n (n itself if it is one), in code order.
func (t *Tree) Leaves(n *Node) []*Node {
	var out []*Node
	for _, x := range t.all[n.index:n.end] {
		if x.Leaf() {
			out = append(out, x)
		}
	}
	return out
}

// All returns every node in pre-order.
func (t *Tree) All() []*Node { return t.all }

// Rows returns the units a viewer of n ranks: its children, and for the
// nation also the 计划单列市 (marked Planned; their numbers are inside
// their province's too).
func (t *Tree) Rows(n *Node) []*Node {
	if n.Level == Nation {
		return append(slices.Clone(n.Children), t.Planned...)
	}
	return n.Children
}

// WriteCSV writes the tree as code,name,level,parent_code (documentation and
// the import's reference list).
func (t *Tree) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"code", "name", "level", "parent_code"}); err != nil {
		return err
	}
	for _, n := range t.all[1:] {
		if err := cw.Write([]string{n.Code, n.Name, n.Level.String(), n.Parent.Code}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
