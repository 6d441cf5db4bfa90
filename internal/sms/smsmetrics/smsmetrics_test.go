package smsmetrics_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xszz/xszz/internal/sms"
	"github.com/xszz/xszz/internal/sms/smsmetrics"
)

type answer struct{ err error }

func (a answer) Send(context.Context, sms.Message) error { return a.err }

func TestCountsPerProvider(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := smsmetrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	login := sms.Message{Phone: "+8613800138000", Code: "012345", Purpose: "login"}
	ok := m.Wrap("aliyun", answer{})
	limited := m.Wrap("tencent", answer{&sms.ProviderError{Provider: "tencent", Code: "LimitExceeded.PhoneNumberDailyLimit", RateLimited: true}})
	down := m.Wrap("tencent", answer{errors.New("connection refused")})
	for range 2 {
		_ = ok.Send(ctx, login)
	}
	_ = limited.Send(ctx, login)
	if err := down.Send(ctx, login); err == nil || err.Error() != "connection refused" {
		t.Fatalf("the wrapper must return the gateway's error unchanged, got %v", err)
	}

	got := map[string]float64{}
	latencySeries := 0
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			var labels []string
			for _, l := range mt.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := mf.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch mf.GetName() {
			case "xszz_sms_gateway_duration_seconds":
				latencySeries++
			default:
				got[key] = mt.GetCounter().GetValue()
			}
		}
	}
	want := map[string]float64{
		"xszz_sms_gateway_sent_total{provider=aliyun,purpose=login}":          2,
		"xszz_sms_gateway_failed_total{provider=tencent,reason=rate_limited}": 1,
		"xszz_sms_gateway_failed_total{provider=tencent,reason=error}":        1,
	}
	if len(got) != len(want) {
		t.Errorf("series %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if latencySeries != 2 {
		t.Errorf("latency series = %d, want one per provider (2)", latencySeries)
	}
}
