package app

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/xszz/xszz/internal/sms"
	"github.com/xszz/xszz/internal/sms/smsmetrics"
)

// smsGateways are the providers that reach real phones.
var smsGateways = []string{"aliyun", "tencent", "webhook"}

func (c *Config) validateSMS() error {
	s := c.SMS
	switch s.Challenge {
	case "auto", "always", "off":
	default:
		return fmt.Errorf("config sms.challenge: %q is not available (auto, always, off)", s.Challenge)
	}
	switch s.Provider {
	case "file", "log", "aliyun", "tencent", "webhook":
	default:
		return fmt.Errorf("config sms.provider: %q is not available (file, log, aliyun, tencent, webhook)", s.Provider)
	}
	if s.Secondary != "" {
		if !slices.Contains(smsGateways, s.Secondary) {
			return fmt.Errorf("config sms.secondary: %q is not available (empty, aliyun, tencent, webhook)", s.Secondary)
		}
		if !slices.Contains(smsGateways, s.Provider) {
			return errors.New("config sms.secondary: a failover gateway needs sms.provider aliyun, tencent or webhook")
		}
		if s.Secondary == s.Provider {
			return errors.New("config sms.secondary: must differ from sms.provider")
		}
		if s.PrimaryTimeout <= 0 {
			return errors.New("config sms.primary_timeout: must be a positive duration such as 3s")
		}
	}
	for _, gw := range []string{s.Provider, s.Secondary} {
		if err := c.validateGateway(gw); err != nil {
			return err
		}
	}
	return nil
}

// validateGateway checks the keys of one configured gateway, naming the
// first one missing.
func (c *Config) validateGateway(gw string) error {
	required := func(prefix string, keys map[string]string, templates map[string]string, codeTemplates bool) error {
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			if strings.TrimSpace(keys[k]) == "" {
				return fmt.Errorf("config sms.%s.%s: required with sms.provider or sms.secondary %s", prefix, k, prefix)
			}
		}
		if codeTemplates {
			for _, p := range smsCodePurposes {
				if templates[p] == "" {
					return fmt.Errorf("config sms.%s.templates.%s: required with sms.provider or sms.secondary %s (the template of %s codes)", prefix, p, prefix, p)
				}
			}
		}
		return nil
	}
	switch gw {
	case "aliyun":
		a := c.SMS.Aliyun
		if err := checkGatewayURL("sms.aliyun.endpoint", a.Endpoint); err != nil {
			return err
		}
		return required("aliyun", map[string]string{"access_key_id": a.AccessKeyID, "access_key_secret": a.AccessKeySecret, "sign_name": a.SignName}, a.Templates, true)
	case "tencent":
		t := c.SMS.Tencent
		if err := checkGatewayURL("sms.tencent.endpoint", t.Endpoint); err != nil {
			return err
		}
		return required("tencent", map[string]string{"secret_id": t.SecretID, "secret_key": t.SecretKey, "region": t.Region, "sdk_app_id": t.SdkAppID, "sign_name": t.SignName}, t.Templates, true)
	case "webhook":
		w := c.SMS.Webhook
		if err := checkGatewayURL("sms.webhook.url", w.URL); err != nil {
			return err
		}
		if len(w.Secret) < 32 {
			return errors.New("config sms.webhook.secret: at least 32 characters, shared with the receiver (openssl rand -base64 32)")
		}
	}
	return nil
}

// checkGatewayURL: codes travel in these requests, so https, except to a
// gateway on this machine.
func checkGatewayURL(key, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("config %s: must be an absolute https URL", key)
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("config %s: http is only allowed on loopback hosts; use https", key)
	}
	return nil
}

// smsSender builds the configured sender: the primary gateway, behind
// Failover when a secondary is configured, each counted by m.
func (c *Config) SMSSender(log *slog.Logger, m *smsmetrics.Metrics) sms.Sender {
	primary := m.Wrap(c.SMS.Provider, c.gateway(c.SMS.Provider, log))
	if c.SMS.Secondary == "" {
		return primary
	}
	return &sms.Failover{
		Primary:        primary,
		Secondary:      m.Wrap(c.SMS.Secondary, c.gateway(c.SMS.Secondary, log)),
		PrimaryTimeout: c.SMS.PrimaryTimeout,
		Log:            log,
	}
}

func (c *Config) gateway(name string, log *slog.Logger) sms.Sender {
	switch name {
	case "aliyun":
		a := c.SMS.Aliyun
		return sms.NewAliyun(sms.AliyunConfig{Endpoint: a.Endpoint, AccessKeyID: a.AccessKeyID, AccessKeySecret: a.AccessKeySecret,
			SignName: a.SignName, Templates: nonEmpty(a.Templates)})
	case "tencent":
		t := c.SMS.Tencent
		return sms.NewTencent(sms.TencentConfig{Endpoint: t.Endpoint, SecretID: t.SecretID, SecretKey: t.SecretKey,
			Region: t.Region, SdkAppID: t.SdkAppID, SignName: t.SignName, Templates: nonEmpty(t.Templates)})
	case "webhook":
		w := c.SMS.Webhook
		return sms.NewWebhook(sms.WebhookConfig{URL: w.URL, Secret: []byte(w.Secret), Templates: nonEmpty(w.Templates)})
	case "log":
		return sms.NewLogSender(log)
	}
	return sms.NewFileSender(c.SMS.Outbox)
}

// nonEmpty drops the purposes left blank, so they count as missing.
func nonEmpty(m map[string]string) sms.Templates {
	t := sms.Templates{}
	for k, v := range m {
		if v = strings.TrimSpace(v); v != "" {
			t[k] = v
		}
	}
	return t
}
