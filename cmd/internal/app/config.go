package app

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Config is the whole configuration; configs/xszz.yaml documents every key.
// cmd/internal/configfile reads it from the file and the environment.
type Config struct {
	Database struct {
		URL     string `mapstructure:"url"`
		Migrate bool   `mapstructure:"migrate"`
	} `mapstructure:"database"`
	Redis struct {
		URL string `mapstructure:"url"`
	} `mapstructure:"redis"`
	IdP struct {
		Listen          string        `mapstructure:"listen"`
		Issuer          string        `mapstructure:"issuer"`
		Secret          string        `mapstructure:"secret"`
		AccessTokenTTL  time.Duration `mapstructure:"access_token_ttl"`
		IDTokenTTL      time.Duration `mapstructure:"id_token_ttl"`
		RefreshTokenTTL time.Duration `mapstructure:"refresh_token_ttl"`
		CodeTTL         time.Duration `mapstructure:"code_ttl"`
		AccessTokenAlg  string        `mapstructure:"access_token_alg"`
		SessionIdle     time.Duration `mapstructure:"session_idle"`
		SessionAbsolute time.Duration `mapstructure:"session_absolute"`
		TOTPRequiredFor string        `mapstructure:"totp_required_for"`
	} `mapstructure:"idp"`
	HTTP struct {
		// TrustedProxies are the CIDR ranges of the load balancers in
		// front of all three services; see web.ClientIP.
		TrustedProxies []string `mapstructure:"trusted_proxies"`
	} `mapstructure:"http"`
	Office  RelyingParty `mapstructure:"office"`
	Cockpit RelyingParty `mapstructure:"cockpit"`
	Ops     struct {
		Listen string `mapstructure:"listen"`
	} `mapstructure:"ops"`
	Keys struct {
		EncryptionKey string        `mapstructure:"encryption_key"`
		RotateEvery   time.Duration `mapstructure:"rotate_every"`
	} `mapstructure:"keys"`
	SMS struct {
		Provider       string        `mapstructure:"provider"`
		Secondary      string        `mapstructure:"secondary"`
		PrimaryTimeout time.Duration `mapstructure:"primary_timeout"`
		Outbox         string        `mapstructure:"outbox"`
		Aliyun         struct {
			Endpoint        string            `mapstructure:"endpoint"`
			AccessKeyID     string            `mapstructure:"access_key_id"`
			AccessKeySecret string            `mapstructure:"access_key_secret"`
			SignName        string            `mapstructure:"sign_name"`
			Templates       map[string]string `mapstructure:"templates"`
		} `mapstructure:"aliyun"`
		Tencent struct {
			Endpoint  string            `mapstructure:"endpoint"`
			SecretID  string            `mapstructure:"secret_id"`
			SecretKey string            `mapstructure:"secret_key"`
			Region    string            `mapstructure:"region"`
			SdkAppID  string            `mapstructure:"sdk_app_id"`
			SignName  string            `mapstructure:"sign_name"`
			Templates map[string]string `mapstructure:"templates"`
		} `mapstructure:"tencent"`
		Webhook struct {
			URL       string            `mapstructure:"url"`
			Secret    string            `mapstructure:"secret"`
			Templates map[string]string `mapstructure:"templates"`
		} `mapstructure:"webhook"`
		CodeTTL        time.Duration `mapstructure:"code_ttl"`
		MaxAttempts    int           `mapstructure:"max_attempts"`
		ResendInterval time.Duration `mapstructure:"resend_interval"`
		PerHour        int           `mapstructure:"per_hour"`
		PerDay         int           `mapstructure:"per_day"`
		PerIPPerHour   int           `mapstructure:"per_ip_per_hour"`
		PerNetPerHour  int           `mapstructure:"per_net_per_hour"`
		PerNet48PerHr  int           `mapstructure:"per_net48_per_hour"`
		GlobalPerMin   int           `mapstructure:"global_per_minute"`
		// Code checks per source, never per number: a stranger cannot lock a
		// number out.
		VerifyPerIPPerHour  int `mapstructure:"verify_per_ip_per_hour"`
		VerifyPerNetPerHour int `mapstructure:"verify_per_net_per_hour"`
		VerifyPerNet48PerHr int `mapstructure:"verify_per_net48_per_hour"`
		// Challenge: auto, always or off (idp/challenge).
		Challenge string `mapstructure:"challenge"`
	} `mapstructure:"sms"`
	Audit struct {
		Retention  time.Duration `mapstructure:"retention"`
		ArchiveDir string        `mapstructure:"archive_dir"`
	} `mapstructure:"audit"`
	Log struct {
		Level  string `mapstructure:"level"`
		Format string `mapstructure:"format"`
	} `mapstructure:"log"`
	// Warnings are what loading noticed but did not refuse (an unknown
	// XSZZ_ variable); they are logged at start.
	Warnings []string `mapstructure:"-"`
}

// RelyingParty is the configuration of the office system or the cockpit:
// each is a service of its own, signing people in through the IdP.
type RelyingParty struct {
	Listen string `mapstructure:"listen"`
	// URL is the public URL; redirect, post-logout and back-channel
	// logout URIs are registered under it.
	URL string `mapstructure:"url"`
	// Issuer is the IdP to trust; empty means idp.issuer.
	Issuer string `mapstructure:"issuer"`
	// ClientID and ClientSecret are the service's credentials at the IdP.
	// Empty while the IdP runs in the same process: the service is then
	// registered as a built-in client on the first start, its secret
	// derived from idp.secret.
	ClientID     string `mapstructure:"client_id"`
	ClientSecret string `mapstructure:"client_secret"`
	// Files is where the office keeps attachments (office only).
	Files string `mapstructure:"files"`
	// The office's workflow timings (office only: the cockpit has no
	// such keys). An answered consultation with no step for
	// ConsultationQuietPeriod closes itself; a complaint is to be
	// accepted within ComplaintAcceptWithin of being filed, work on it
	// started within ComplaintStartWithin of accepting, and a reply given
	// within ComplaintReplyWithin of starting.
	ConsultationQuietPeriod time.Duration `mapstructure:"consultation_quiet_period"`
	ComplaintAcceptWithin   time.Duration `mapstructure:"complaint_accept_within"`
	ComplaintStartWithin    time.Duration `mapstructure:"complaint_start_within"`
	ComplaintReplyWithin    time.Duration `mapstructure:"complaint_reply_within"`
}

// Defaults are the embedded development set-up: SQLite under ./data,
// in-process cache, codes to ./data/sms-outbox.jsonl and the log.
var Defaults = map[string]any{
	"database.url":                  "sqlite://data/xszz.db",
	"database.migrate":              true,
	"redis.url":                     "",
	"idp.listen":                    "127.0.0.1:8080",
	"idp.issuer":                    "http://127.0.0.1:8080",
	"idp.secret":                    "",
	"idp.access_token_ttl":          "10m",
	"idp.id_token_ttl":              "10m",
	"idp.refresh_token_ttl":         "720h",
	"idp.code_ttl":                  "60s",
	"idp.access_token_alg":          "ES256",
	"idp.session_idle":              "30m",
	"idp.session_absolute":          "12h",
	"idp.totp_required_for":         "admin",
	"http.trusted_proxies":          []string{},
	"office.listen":                 "127.0.0.1:8081",
	"office.url":                    "http://127.0.0.1:8081",
	"office.issuer":                 "",
	"office.client_id":              "",
	"office.client_secret":          "",
	"office.files":                  "data/office-files",
	"cockpit.listen":                "127.0.0.1:8082",
	"cockpit.url":                   "http://127.0.0.1:8082",
	"cockpit.issuer":                "",
	"cockpit.client_id":             "",
	"cockpit.client_secret":         "",
	"ops.listen":                    "127.0.0.1:9090",
	"keys.encryption_key":           "",
	"keys.rotate_every":             "0s",
	"sms.provider":                  "file",
	"sms.secondary":                 "",
	"sms.primary_timeout":           "3s",
	"sms.outbox":                    "data/sms-outbox.jsonl",
	"sms.aliyun.endpoint":           "https://dysmsapi.aliyuncs.com",
	"sms.aliyun.access_key_id":      "",
	"sms.aliyun.access_key_secret":  "",
	"sms.aliyun.sign_name":          "",
	"sms.tencent.endpoint":          "https://sms.tencentcloudapi.com",
	"sms.tencent.secret_id":         "",
	"sms.tencent.secret_key":        "",
	"sms.tencent.region":            "ap-guangzhou",
	"sms.tencent.sdk_app_id":        "",
	"sms.tencent.sign_name":         "",
	"sms.webhook.url":               "",
	"sms.webhook.secret":            "",
	"sms.code_ttl":                  "5m",
	"sms.max_attempts":              5,
	"sms.resend_interval":           "60s",
	"sms.per_hour":                  5,
	"sms.per_day":                   10,
	"sms.per_ip_per_hour":           30,
	"sms.per_net_per_hour":          100,
	"sms.per_net48_per_hour":        300,
	"sms.global_per_minute":         1000,
	"sms.verify_per_ip_per_hour":    60,
	"sms.verify_per_net_per_hour":   200,
	"sms.verify_per_net48_per_hour": 600,
	"sms.challenge":                 "auto",
	"audit.retention":               "4320h",
	"audit.archive_dir":             "data/audit-archive",
	"log.level":                     "info",
	"log.format":                    "auto",
}

// smsPurposes are the messages a gateway needs a template for: the codes
// (required) and the notices (optional: without a template the notice is
// not sent, and the log says so).
var (
	smsCodePurposes   = []string{"login", "register", "change_phone"}
	smsNoticePurposes = []string{"approved", "rejected", "phone_changed", "office_reminder", "totp_reset"}
)

// officeWorkflowDefaults are the office's workflow timings (office only),
// the office packages' own defaults; init adds them to Defaults.
var officeWorkflowDefaults = map[string]any{
	"office.consultation_quiet_period": "168h",
	"office.complaint_accept_within":   "48h",
	"office.complaint_start_within":    "72h",
	"office.complaint_reply_within":    "360h",
}

func init() {
	maps.Copy(Defaults, officeWorkflowDefaults)
	for _, gw := range []string{"aliyun", "tencent", "webhook"} {
		for _, p := range append(slices.Clone(smsCodePurposes), smsNoticePurposes...) {
			Defaults["sms."+gw+".templates."+p] = ""
		}
	}
}

// Validate checks a loaded configuration; configfile.Load calls it.
func (c *Config) Validate() error {
	u, err := url.Parse(c.IdP.Issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("config idp.issuer: must be an absolute http(s) URL without query or fragment")
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		return errors.New("config idp.issuer: http is only allowed on loopback hosts (development); use https")
	}
	for name, rp := range map[string]*RelyingParty{"office": &c.Office, "cockpit": &c.Cockpit} {
		if err := rp.validate(name, c.IdP.Issuer); err != nil {
			return err
		}
	}
	if !strings.HasPrefix(c.Database.URL, "sqlite://") && !strings.HasPrefix(c.Database.URL, "postgres://") && !strings.HasPrefix(c.Database.URL, "postgresql://") {
		return errors.New("config database.url: must start with sqlite:// or postgres://")
	}
	if c.Redis.URL != "" && !strings.HasPrefix(c.Redis.URL, "redis://") && !strings.HasPrefix(c.Redis.URL, "rediss://") {
		return errors.New("config redis.url: must start with redis:// or rediss://")
	}
	for name, d := range map[string]time.Duration{
		"idp.access_token_ttl": c.IdP.AccessTokenTTL, "idp.id_token_ttl": c.IdP.IDTokenTTL,
		"idp.refresh_token_ttl": c.IdP.RefreshTokenTTL, "idp.code_ttl": c.IdP.CodeTTL,
		"idp.session_idle": c.IdP.SessionIdle, "idp.session_absolute": c.IdP.SessionAbsolute, "sms.code_ttl": c.SMS.CodeTTL,
	} {
		if d <= 0 {
			return fmt.Errorf("config %s: must be a positive duration such as 10m", name)
		}
	}
	for name, d := range map[string]time.Duration{
		"office.consultation_quiet_period": c.Office.ConsultationQuietPeriod,
		"office.complaint_accept_within":   c.Office.ComplaintAcceptWithin,
		"office.complaint_start_within":    c.Office.ComplaintStartWithin,
		"office.complaint_reply_within":    c.Office.ComplaintReplyWithin,
	} {
		if d <= 0 {
			return fmt.Errorf("config %s: must be a positive duration such as 48h", name)
		}
	}
	if c.IdP.CodeTTL > 10*time.Minute {
		return errors.New("config idp.code_ttl: at most 10m (RFC 6749 §4.1.2)")
	}
	if c.SMS.CodeTTL > 10*time.Minute {
		return errors.New("config sms.code_ttl: at most 10m (NIST SP 800-63B)")
	}
	switch c.IdP.AccessTokenAlg {
	case "ES256", "RS256":
	default:
		return errors.New("config idp.access_token_alg: must be ES256 or RS256")
	}
	switch c.IdP.TOTPRequiredFor {
	case "admin", "all", "none":
	default:
		return errors.New("config idp.totp_required_for: must be admin, all or none")
	}
	if err := c.validateSMS(); err != nil {
		return err
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return errors.New("config log.level: must be debug, info, warn or error")
	}
	switch c.Log.Format {
	case "auto", "json", "text":
	default:
		return errors.New("config log.format: must be auto, json or text")
	}
	if c.Keys.RotateEvery < 0 {
		return errors.New("config keys.rotate_every: must not be negative")
	}
	if _, err := c.TrustedProxies(); err != nil {
		return err
	}
	return nil
}

// TrustedProxies parses http.trusted_proxies: CIDR ranges (a bare address
// is a range of one), in a YAML list or comma-separated (the form
// XSZZ_HTTP_TRUSTED_PROXIES takes).
func (c *Config) TrustedProxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range c.HTTP.TrustedProxies {
		for _, raw := range strings.Split(item, ",") {
			raw = strings.TrimSpace(raw)
			if raw == "" {
				continue
			}
			p, err := netip.ParsePrefix(raw)
			if err != nil {
				a, aerr := netip.ParseAddr(raw)
				if aerr != nil {
					return nil, fmt.Errorf("config http.trusted_proxies: %q is not a CIDR range such as 10.0.0.0/8 or 2001:db8::/32", raw)
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			if p.Bits() == 0 {
				return nil, fmt.Errorf("config http.trusted_proxies: %q trusts every address, so anyone could choose their own", raw)
			}
			out = append(out, p.Masked())
		}
	}
	return out, nil
}

func (rp *RelyingParty) validate(name, idpIssuer string) error {
	if rp.Issuer == "" {
		rp.Issuer = idpIssuer
	}
	rp.URL = strings.TrimSuffix(rp.URL, "/")
	for key, raw := range map[string]string{"url": rp.URL, "issuer": rp.Issuer} {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("config %s.%s: must be an absolute http(s) URL without query or fragment, such as https://office.xszz.example", name, key)
		}
		if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
			return fmt.Errorf("config %s.%s: http is only allowed on loopback hosts (development); use https", name, key)
		}
	}
	if (rp.ClientID == "") != (rp.ClientSecret == "") {
		return fmt.Errorf("config %s.client_id and %s.client_secret: set both or neither", name, name)
	}
	return nil
}

func isLoopbackHost(h string) bool { return h == "localhost" || h == "127.0.0.1" || h == "::1" }

// secrets are the two keys every replica must share.
type secrets struct {
	IdPSecret     []byte
	EncryptionKey []byte
}

// loadSecrets decodes the configured secrets. On the embedded SQLite
// set-up they may be left empty: they are then generated once and kept in
// a 0600 file beside the database, so `xszz serve` works with no
// configuration. With PostgreSQL they must be configured, since several
// replicas have to share them.
func (c *Config) loadSecrets() (*secrets, error) {
	s := &secrets{}
	var err error
	if c.IdP.Secret != "" {
		if s.IdPSecret, err = decodeKey(c.IdP.Secret, 32); err != nil {
			return nil, fmt.Errorf("config idp.secret: %w", err)
		}
	}
	if c.Keys.EncryptionKey != "" {
		if s.EncryptionKey, err = decodeKey(c.Keys.EncryptionKey, 32); err != nil {
			return nil, fmt.Errorf("config keys.encryption_key: %w", err)
		}
		if len(s.EncryptionKey) != 32 {
			return nil, errors.New("config keys.encryption_key: must be exactly 32 bytes (base64)")
		}
	}
	if s.IdPSecret != nil && s.EncryptionKey != nil {
		return s, nil
	}
	if !strings.HasPrefix(c.Database.URL, "sqlite://") {
		return nil, errors.New("config idp.secret and keys.encryption_key: required with PostgreSQL (generate each with: openssl rand -base64 32)")
	}
	path := filepath.Join(filepath.Dir(strings.TrimPrefix(c.Database.URL, "sqlite://")), "secrets.json")
	var stored struct {
		IdPSecret     []byte `json:"idp_secret"`
		EncryptionKey []byte `json:"encryption_key"`
	}
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &stored); err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(stored.IdPSecret) != 32 || len(stored.EncryptionKey) != 32 {
		stored.IdPSecret, stored.EncryptionKey = Random(32), Random(32)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", filepath.Dir(path), err)
		}
		b, _ := json.Marshal(stored)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
	}
	if s.IdPSecret == nil {
		s.IdPSecret = stored.IdPSecret
	}
	if s.EncryptionKey == nil {
		s.EncryptionKey = stored.EncryptionKey
	}
	return s, nil
}

func decodeKey(s string, min int) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawURLEncoding.DecodeString(s); err != nil {
			return nil, errors.New("must be base64")
		}
	}
	if len(b) < min {
		return nil, fmt.Errorf("must decode to at least %d bytes", min)
	}
	return b, nil
}

// Random returns n bytes from crypto/rand.
func Random(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return b
}
