package workflow

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/xszz/xszz/internal/web"
)

// Machine is a state machine: for each state, the actions allowed from it
// and the state each leads to.
type Machine struct {
	// Names are the states and actions in Chinese, for messages and pages.
	Names map[string]string
	Moves map[string]map[string]string
}

// Allowed lists the actions allowed from state, sorted.
func (m Machine) Allowed(state string) []string {
	var out []string
	for a := range m.Moves[state] {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Next returns the state action leads to from state, or a 409 that names
// the actions allowed from it.
func (m Machine) Next(state, action string) (string, error) {
	if to, ok := m.Moves[state][action]; ok {
		return to, nil
	}
	allowed := m.Allowed(state)
	var names []string
	for _, a := range allowed {
		names = append(names, fmt.Sprintf("%s（%s）", m.name(a), a))
	}
	msg := fmt.Sprintf("当前状态“%s”下不能%s", m.name(state), m.name(action))
	if len(names) == 0 {
		msg += "；该事项已办结，不能再操作"
	} else {
		msg += "；允许的操作：" + strings.Join(names, "、")
	}
	return "", &web.Error{Status: http.StatusConflict, Code: "invalid_transition", Message: msg,
		Header: map[string]string{"X-Allowed-Transitions": strings.Join(allowed, ",")}}
}

func (m Machine) name(k string) string {
	if n, ok := m.Names[k]; ok {
		return n
	}
	return k
}

// Open reports whether any action is allowed from state.
func (m Machine) Open(state string) bool { return len(m.Moves[state]) > 0 }
