package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/promhttp"
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
	m := sys.metrics(t)
	if !strings.Contains(m, `xszz_sms_requests_total{purpose="login",result="refused_global"} 1`) {
		t.Fatalf("metrics lack the global-budget refusal:\n%s", grepLines(m, "xszz_sms_requests_total"))
	}
}

// metrics reads the system's metrics as the operations listener serves
// them (they are not on the public listener).
func (sys *system) metrics(t *testing.T) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(sys.app.Registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

// The public listener does not serve /metrics: it would let anyone count
// SMS deliveries.
func TestMetricsAreNotOnThePublicListener(t *testing.T) {
	sys := sharedSystem(t, sqliteBackend)
	if r := sys.browser(t).get("/metrics"); r.Status != http.StatusNotFound {
		t.Fatalf("GET /metrics on the IdP listener: %s", r)
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
