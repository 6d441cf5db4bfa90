package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xszz/xszz/internal/sms"
	"github.com/xszz/xszz/internal/sms/smsmetrics"
)

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "xszz.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const aliyunYAML = `
sms:
  provider: aliyun
  aliyun:
    access_key_id: LTAI5t
    sign_name: 学生资助
    templates:
      login: SMS_1
      register: SMS_2
      change_phone: SMS_3
      approved: SMS_4
`

// Each refusal names the key to fix.
func TestSMSConfigValidation(t *testing.T) {
	for _, tt := range []struct {
		name    string
		yaml    string
		env     map[string]string
		wantErr string // "" means valid
	}{
		{name: "file stays the default", yaml: "sms: {}\n"},
		{name: "aliyun secret from the environment", yaml: aliyunYAML, env: map[string]string{"XSZZ_SMS_ALIYUN_ACCESS_KEY_SECRET": "from-env"}},
		{name: "aliyun without its secret", yaml: aliyunYAML, wantErr: "config sms.aliyun.access_key_secret: required"},
		{name: "unknown provider", yaml: "sms: {provider: yunpian}\n", wantErr: "config sms.provider:"},
		{name: "code template missing", yaml: strings.Replace(aliyunYAML, "      register: SMS_2\n", "", 1),
			env: map[string]string{"XSZZ_SMS_ALIYUN_ACCESS_KEY_SECRET": "x"}, wantErr: "config sms.aliyun.templates.register: required"},
		{name: "unknown purpose is an unknown key", yaml: aliyunYAML + "      birthday: SMS_9\n",
			env: map[string]string{"XSZZ_SMS_ALIYUN_ACCESS_KEY_SECRET": "x"}, wantErr: `unknown key "sms.aliyun.templates.birthday"`},
		{name: "secondary needs its own keys", yaml: aliyunYAML + "  secondary: tencent\n",
			env: map[string]string{"XSZZ_SMS_ALIYUN_ACCESS_KEY_SECRET": "x"}, wantErr: "config sms.tencent.sdk_app_id: required"},
		{name: "secondary equal to primary", yaml: aliyunYAML + "  secondary: aliyun\n",
			env: map[string]string{"XSZZ_SMS_ALIYUN_ACCESS_KEY_SECRET": "x"}, wantErr: "config sms.secondary: must differ"},
		{name: "secondary behind the file sender", yaml: "sms: {provider: file, secondary: webhook}\n", wantErr: "config sms.secondary: a failover gateway needs"},
		{name: "webhook over plain http elsewhere", yaml: "sms: {provider: webhook, webhook: {url: 'http://sms.example.com/send', secret: '0123456789abcdef0123456789abcdef'}}\n",
			wantErr: "config sms.webhook.url: http is only allowed on loopback"},
		{name: "webhook with a short secret", yaml: "sms: {provider: webhook, webhook: {url: 'https://sms.example.com/send', secret: short}}\n",
			wantErr: "config sms.webhook.secret: at least 32 characters"},
		{name: "webhook", yaml: "sms: {provider: webhook, webhook: {url: 'https://sms.example.com/send'}}\n",
			env: map[string]string{"XSZZ_SMS_WEBHOOK_SECRET": "0123456789abcdef0123456789abcdef"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := loadConfig(writeConfig(t, tt.yaml))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.SMS.Provider == "aliyun" && (cfg.SMS.Aliyun.AccessKeySecret != "from-env" || cfg.SMS.Aliyun.Templates["approved"] != "SMS_4") {
					t.Fatalf("aliyun config not read: %+v", cfg.SMS.Aliyun)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// A configured primary that fails hands the message to the secondary, and
// each gateway is counted under its own name.
func TestSMSConfigFailover(t *testing.T) {
	var aliyunCalls, webhookCalls atomic.Int32
	aliyun := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		aliyunCalls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"Code":"isp.SYSTEM_ERROR","Message":"系统错误"}`)
	}))
	defer aliyun.Close()
	const secret = "0123456789abcdef0123456789abcdef"
	webhook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get(sms.WebhookSignatureHeader) != sms.SignWebhook([]byte(secret), b) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		webhookCalls.Add(1)
	}))
	defer webhook.Close()

	t.Setenv("XSZZ_SMS_ALIYUN_ACCESS_KEY_SECRET", "s")
	t.Setenv("XSZZ_SMS_WEBHOOK_SECRET", secret)
	cfg, err := loadConfig(writeConfig(t, strings.Replace(aliyunYAML, "  aliyun:\n", "  aliyun:\n    endpoint: "+aliyun.URL+"\n", 1)+
		"  secondary: webhook\n  webhook:\n    url: "+webhook.URL+"/sms\n"))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := smsmetrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.SMSSender(slog.New(slog.DiscardHandler), m)
	if err := s.Send(context.Background(), sms.Message{Phone: "+8613800138000", Code: "012345", Purpose: "login"}); err != nil {
		t.Fatal(err)
	}
	if aliyunCalls.Load() != 1 || webhookCalls.Load() != 1 {
		t.Fatalf("aliyun %d, webhook %d calls; want 1 and 1", aliyunCalls.Load(), webhookCalls.Load())
	}
	mfs, _ := reg.Gather()
	seen := map[string]bool{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "provider" {
					seen[mf.GetName()+"/"+l.GetValue()] = true
				}
			}
		}
	}
	for _, want := range []string{"xszz_sms_gateway_failed_total/aliyun", "xszz_sms_gateway_sent_total/webhook", "xszz_sms_gateway_duration_seconds/aliyun", "xszz_sms_gateway_duration_seconds/webhook"} {
		if !seen[want] {
			t.Errorf("no series %s in %v", want, seen)
		}
	}
}
