package sms

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TencentConfig configures the Tencent Cloud SMS gateway (API 3.0
// SendSms, version 2021-01-11, signed with TC3-HMAC-SHA256).
type TencentConfig struct {
	// Endpoint defaults to https://sms.tencentcloudapi.com.
	Endpoint  string
	SecretID  string
	SecretKey string
	Region    string // defaults to ap-guangzhou
	SdkAppID  string // e.g. 1400006666
	SignName  string
	// Templates maps each purpose to an approved template id, e.g.
	// 449739. Tencent templates number their variables {1}, {2}…: the code
	// is {1}, and Message.Params follow in the order of their names.
	Templates Templates
	// HTTPClient defaults to a client with a 5 s timeout.
	HTTPClient *http.Client
	// Now is for tests; defaults to time.Now.
	Now func() time.Time
}

// Tencent sends codes through Tencent Cloud SMS.
type Tencent struct {
	cfg TencentConfig
}

// NewTencent returns the Tencent Cloud sender.
func NewTencent(cfg TencentConfig) *Tencent {
	if cfg.Endpoint == "" {
		cfg.Endpoint = "https://sms.tencentcloudapi.com"
	}
	if cfg.Region == "" {
		cfg.Region = "ap-guangzhou"
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Tencent{cfg: cfg}
}

const tencentContentType = "application/json; charset=utf-8"

// tencentFlowControl are the per-number flow-control codes (errors.go of
// tencentcloud-sdk-go, see sms_api_notes.md B).
var tencentFlowControl = map[string]bool{
	"LimitExceeded.PhoneNumberThirtySecondLimit":     true,
	"LimitExceeded.PhoneNumberOneHourLimit":          true,
	"LimitExceeded.PhoneNumberDailyLimit":            true,
	"LimitExceeded.PhoneNumberSameContentDailyLimit": true,
	"LimitExceeded.DeliveryFrequencyLimit":           true,
}

// Send implements Sender.
func (t *Tencent) Send(ctx context.Context, m Message) error {
	tmpl, err := t.cfg.Templates.For(m.Purpose)
	if err != nil {
		return fmt.Errorf("tencent sms: %w", err)
	}
	params := []string{}
	if m.Code != "" {
		params = append(params, m.Code)
	}
	for _, k := range slices.Sorted(maps.Keys(m.Params)) {
		params = append(params, m.Params[k])
	}
	payload, err := json.Marshal(struct {
		PhoneNumberSet   []string
		SmsSdkAppId      string
		SignName         string
		TemplateId       string
		TemplateParamSet []string
	}{[]string{m.Phone}, t.cfg.SdkAppID, t.cfg.SignName, tmpl, params})
	if err != nil {
		return fmt.Errorf("tencent sms: %w", err)
	}
	u, err := url.Parse(t.cfg.Endpoint)
	if err != nil {
		return fmt.Errorf("tencent sms: endpoint: %w", err)
	}
	u.Path = "/"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("tencent sms: %w", err)
	}
	ts := t.cfg.Now().Unix()
	req.Header.Set("Content-Type", tencentContentType)
	req.Header.Set("X-TC-Action", "SendSms")
	req.Header.Set("X-TC-Version", "2021-01-11")
	req.Header.Set("X-TC-Region", t.cfg.Region)
	req.Header.Set("X-TC-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("Authorization", SignTC3(t.cfg.SecretID, t.cfg.SecretKey, "sms", u.Host, tencentContentType, payload, ts))

	resp, err := t.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("tencent sms: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("tencent sms: read response: %w", err)
	}
	var r struct {
		Response struct {
			Error *struct {
				Code    string
				Message string
			}
			SendStatusSet []struct {
				Code    string
				Message string
			}
		}
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("tencent sms: HTTP %d, unreadable response: %w", resp.StatusCode, err)
	}
	if e := r.Response.Error; e != nil {
		return &ProviderError{Provider: "tencent", Code: e.Code, Message: e.Message, RateLimited: tencentFlowControl[e.Code]}
	}
	if len(r.Response.SendStatusSet) != 1 {
		return &ProviderError{Provider: "tencent", Code: "NoSendStatus", Message: fmt.Sprintf("HTTP %d, %d send statuses", resp.StatusCode, len(r.Response.SendStatusSet))}
	}
	// Per-number failures come back inside SendStatusSet with HTTP 200.
	if st := r.Response.SendStatusSet[0]; !strings.EqualFold(st.Code, "Ok") {
		return &ProviderError{Provider: "tencent", Code: st.Code, Message: st.Message, RateLimited: tencentFlowControl[st.Code]}
	}
	return nil
}

// SignTC3 returns the Authorization header for a TC3-HMAC-SHA256 POST
// with signed headers content-type and host.
func SignTC3(secretID, secretKey, service, host, contentType string, payload []byte, timestamp int64) string {
	date, sig := tc3Signature(secretKey, service, host, contentType, payload, timestamp)
	return "TC3-HMAC-SHA256 Credential=" + secretID + "/" + date + "/" + service + "/tc3_request, SignedHeaders=content-type;host, Signature=" + sig
}

func tc3StringToSign(service, host, contentType string, payload []byte, timestamp int64) (date, stringToSign string) {
	// The date is the UTC date of the timestamp, not China time.
	date = time.Unix(timestamp, 0).UTC().Format("2006-01-02")
	canonical := "POST\n/\n\ncontent-type:" + contentType + "\nhost:" + host + "\n\ncontent-type;host\n" + sha256Hex(payload)
	stringToSign = "TC3-HMAC-SHA256\n" + strconv.FormatInt(timestamp, 10) + "\n" + date + "/" + service + "/tc3_request\n" + sha256Hex([]byte(canonical))
	return date, stringToSign
}

func tc3Signature(secretKey, service, host, contentType string, payload []byte, timestamp int64) (date, signature string) {
	date, sts := tc3StringToSign(service, host, contentType, payload, timestamp)
	k := hmacSHA256([]byte("TC3"+secretKey), date)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, "tc3_request")
	return date, hex.EncodeToString(hmacSHA256(k, sts))
}
