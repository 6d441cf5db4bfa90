package main

import (
	"net/http"
	"strings"
	"testing"
)

// When the deployment-wide SMS budget is spent, sends are refused with a
// retry time and the refusal shows in the metrics under its own label, for
// an alert on SMS-bombing storms.
func TestGlobalSMSBudgetIsCountedInMetrics(t *testing.T) {
	sys := startSystem(t, sqliteBackend, func(c *Config) { c.SMS.GlobalPerMin = 1 })
	b := sys.browser(t)
	first, second := sys.newAccount(t), sys.newAccount(t)
	if r := b.postJSON("/api/v1/sms/send", map[string]string{"phone": first.Phone}); r.Status != http.StatusOK {
		t.Fatalf("first send: %s", r)
	}
	r := b.postJSON("/api/v1/sms/send", map[string]string{"phone": second.Phone})
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("send over the global budget: %s", r)
	}
	m := b.get("/metrics")
	if !strings.Contains(m.Body, `xszz_sms_requests_total{purpose="login",result="refused_global"} 1`) {
		t.Fatalf("metrics lack the global-budget refusal:\n%s", grepLines(m.Body, "xszz_sms_requests_total"))
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
