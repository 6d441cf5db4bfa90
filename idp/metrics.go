package idp

import (
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

type metrics struct {
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	tokens        *prometheus.CounterVec
	smsSent       *prometheus.CounterVec
	loginFailures *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xszz_http_requests_total", Help: "HTTP requests by route and status."}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "xszz_http_request_duration_seconds", Help: "HTTP latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"route"}),
		tokens:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xszz_tokens_issued_total", Help: "Token responses by grant type."}, []string{"grant_type"}),
		smsSent:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xszz_sms_requests_total", Help: "SMS code requests by purpose and result."}, []string{"purpose", "result"}),
		loginFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "xszz_login_failures_total", Help: "Failed sign-ins by reason."}, []string{"reason"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.tokens, m.smsSent, m.loginFailures} {
		_ = reg.Register(c)
	}
	_ = reg.Register(collectors.NewGoCollector())
	_ = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		status := c.Response().Status
		if err != nil {
			c.Error(err)
			status = c.Response().Status
		}
		m.requests.WithLabelValues(route, c.Request().Method, strconv.Itoa(status)).Inc()
		m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
		return nil
	}
}
