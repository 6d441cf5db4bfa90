// Package smsmetrics counts what each SMS gateway does: messages sent,
// failures, and how long the gateway took. It wraps senders so that
// package sms stays free of Prometheus.
package smsmetrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xszz/xszz/internal/sms"
)

// Metrics holds the collectors shared by every wrapped gateway.
type Metrics struct {
	sent    *prometheus.CounterVec
	failed  *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

// New registers the collectors on reg.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xszz_sms_gateway_sent_total",
			Help: "Messages a gateway accepted, by provider and purpose."}, []string{"provider", "purpose"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xszz_sms_gateway_failed_total",
			Help: "Messages a gateway did not accept, by provider and reason (rate_limited, timeout, error)."}, []string{"provider", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "xszz_sms_gateway_duration_seconds",
			Help:    "Time a gateway took to answer, by provider.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2, 5, 10}}, []string{"provider"}),
	}
	for _, c := range []prometheus.Collector{m.sent, m.failed, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Wrap returns s counted under provider ("aliyun", "tencent", "webhook",
// "file", "log").
func (m *Metrics) Wrap(provider string, s sms.Sender) sms.Sender {
	return &sender{m: m, provider: provider, next: s}
}

type sender struct {
	m        *Metrics
	provider string
	next     sms.Sender
}

func (s *sender) Send(ctx context.Context, msg sms.Message) error {
	t0 := time.Now()
	err := s.next.Send(ctx, msg)
	s.m.latency.WithLabelValues(s.provider).Observe(time.Since(t0).Seconds())
	switch {
	case err == nil:
		s.m.sent.WithLabelValues(s.provider, msg.Purpose).Inc()
	case errors.Is(err, sms.ErrRateLimited):
		s.m.failed.WithLabelValues(s.provider, "rate_limited").Inc()
	case errors.Is(err, context.DeadlineExceeded):
		s.m.failed.WithLabelValues(s.provider, "timeout").Inc()
	default:
		s.m.failed.WithLabelValues(s.provider, "error").Inc()
	}
	return err
}
