package directory

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/xszz/xszz/internal/web"
)

// Target kinds: who below a unit a notice or an activity is for.
const (
	TargetSubtree = "subtree" // every unit below
	TargetUnits   = "units"   // the people of chosen units below
	TargetLevels  = "levels"  // every unit of chosen levels below
)

// Target says who below the sending unit a notice or activity reaches.
// The sending unit's own people are never recipients: they wrote it.
type Target struct {
	Kind   string   `json:"kind"`
	Units  []string `json:"units,omitempty"`
	Levels []string `json:"levels,omitempty"`
}

// Encode stores a target in one column.
func (t Target) Encode() string {
	switch t.Kind {
	case TargetUnits:
		return strings.Join(t.Units, ",")
	case TargetLevels:
		return strings.Join(t.Levels, ",")
	}
	return ""
}

// DecodeTarget reverses Encode.
func DecodeTarget(kind, s string) Target {
	t := Target{Kind: kind}
	var list []string
	if s != "" {
		list = strings.Split(s, ",")
	}
	switch kind {
	case TargetUnits:
		t.Units = list
	case TargetLevels:
		t.Levels = list
	}
	return t
}

func invalid(msg string) error { return web.Errorf(http.StatusBadRequest, "invalid_request", msg) }

// MaxTargetUnits bounds the units one notice or activity names.
const MaxTargetUnits = 500

// CheckTarget validates t for viewer v against the directory: it loads
// the named units (after the count check, so a huge list costs nothing)
// and applies Check.
func (s *Store) CheckTarget(ctx context.Context, v Viewer, t *Target) error {
	var units []Unit
	if t.Kind == TargetUnits {
		if len(t.Units) > MaxTargetUnits {
			return invalid("请选择 1–500 个下级单位")
		}
		var err error
		if units, err = s.Units(ctx, t.Units); err != nil {
			return err
		}
	}
	return t.Check(v.Path, v.Level, units)
}

// Check validates a target sent from the unit at fromPath (level
// fromLevel): units must lie strictly below it and levels below its level.
// units holds the chosen units as the directory knows them.
func (t *Target) Check(fromPath, fromLevel string, units []Unit) error {
	switch t.Kind {
	case "", TargetSubtree:
		t.Kind, t.Units, t.Levels = TargetSubtree, nil, nil
	case TargetUnits:
		if len(t.Units) == 0 || len(t.Units) > MaxTargetUnits {
			return invalid("请选择 1–500 个下级单位")
		}
		if len(units) != len(t.Units) {
			return invalid("所选单位不存在或不在本单位之下")
		}
		for _, u := range units {
			if !strings.HasPrefix(u.Path, fromPath) || u.Path == fromPath {
				return invalid("所选单位不存在或不在本单位之下")
			}
		}
		t.Levels = nil
	case TargetLevels:
		from := slices.Index(Levels, fromLevel)
		if len(t.Levels) == 0 {
			return invalid("请选择下级层级")
		}
		for _, l := range t.Levels {
			if i := slices.Index(Levels, l); i < 0 || i <= from {
				return invalid("所选层级须在本单位层级之下")
			}
		}
		slices.Sort(t.Levels)
		t.Levels = slices.Compact(t.Levels)
		t.Units = nil
	default:
		return invalid("发送范围应为 subtree、units 或 levels")
	}
	return nil
}

// Filter is the target's condition on people (p) and their unit (u)
// without the subtree bounds, for queries already bounded to one unit
// below the sender; placeholders are numbered from $next.
func (t Target) Filter(next int) (string, []any) {
	var list []string
	col := ""
	switch t.Kind {
	case TargetUnits:
		list, col = t.Units, "p.org_id"
	case TargetLevels:
		list, col = t.Levels, "u.level"
	default:
		return "1 = 1", nil
	}
	ph := make([]string, len(list))
	args := make([]any, len(list))
	for i, v := range list {
		ph[i], args[i] = fmt.Sprintf("$%d", next+i), v
	}
	return col + " IN (" + strings.Join(ph, ", ") + ")", args
}

// SQL is the condition selecting the people (alias p, joined to their
// unit as u) a target sent from fromPath reaches; placeholders are
// numbered from $next.
func (t Target) SQL(fromPath string, next int) (string, []any) {
	lo, hi := Range(fromPath)
	cond := fmt.Sprintf(`p.org_path >= $%d AND p.org_path < $%d AND p.org_path <> $%d`, next, next+1, next+2)
	args := []any{lo, hi, fromPath}
	next += 3
	var list []string
	col := ""
	switch t.Kind {
	case TargetUnits:
		list, col = t.Units, "p.org_id"
	case TargetLevels:
		list, col = t.Levels, "u.level"
	}
	if col != "" {
		ph := make([]string, len(list))
		for i, v := range list {
			ph[i] = fmt.Sprintf("$%d", next+i)
			args = append(args, v)
		}
		cond += " AND " + col + " IN (" + strings.Join(ph, ", ") + ")"
	}
	return cond, args
}
