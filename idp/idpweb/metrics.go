package idpweb

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the counters the parts keep.
type Metrics struct {
	Tokens        *prometheus.CounterVec
	SMSSent       *prometheus.CounterVec
	LoginFailures *prometheus.CounterVec
}

// NewMetrics registers the counters with reg; counters registered there
// before are shared rather than refused.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				if old, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
					return old
				}
			}
		}
		return c
	}
	return &Metrics{
		Tokens:        counter("xszz_tokens_issued_total", "Token responses by grant type.", "grant_type"),
		SMSSent:       counter("xszz_sms_requests_total", "SMS code requests by purpose and result.", "purpose", "result"),
		LoginFailures: counter("xszz_login_failures_total", "Failed sign-ins by reason.", "reason"),
	}
}
