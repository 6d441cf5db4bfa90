package sms

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Vector A3 of sms_api_notes.md (Alibaba's fixed-parameter example).
func TestSignACS3Vector(t *testing.T) {
	query := acs3Query(map[string]string{
		"RegionId": "cn-shanghai",
		"ImageId":  "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd",
	})
	headers := map[string]string{
		"host":                  "ecs.cn-shanghai.aliyuncs.com",
		"x-acs-action":          "RunInstances",
		"x-acs-version":         "2014-05-26",
		"x-acs-date":            "2023-10-26T10:22:32Z",
		"x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
		"x-acs-content-sha256":  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	}
	auth, canonical := SignACS3("YourAccessKeyId", "YourAccessKeySecret", "POST", "/", query, headers, nil)
	wantCanonical := "POST\n/\nImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai\n" +
		"host:ecs.cn-shanghai.aliyuncs.com\nx-acs-action:RunInstances\n" +
		"x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n" +
		"x-acs-date:2023-10-26T10:22:32Z\nx-acs-signature-nonce:3156853299f313e23d1673dc12e1703d\nx-acs-version:2014-05-26\n\n" +
		"host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\n" +
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if canonical != wantCanonical {
		t.Fatalf("canonical request\n%s\nwant\n%s", canonical, wantCanonical)
	}
	if got := sha256Hex([]byte(canonical)); got != "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259" {
		t.Fatalf("hashed canonical request %s", got)
	}
	const want = "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
	if auth != want {
		t.Fatalf("Authorization\n%s\nwant\n%s", auth, want)
	}
}

func TestPercentEncode(t *testing.T) {
	for in, want := range map[string]string{
		"a b":       "a%20b",
		"*":         "%2A",
		"~-_.":      "~-_.",
		`{"c":"1"}`: "%7B%22c%22%3A%221%22%7D",
		"阿里":        "%E9%98%BF%E9%87%8C",
		"+86":       "%2B86",
	} {
		if got := percentEncode(in); got != want {
			t.Errorf("percentEncode(%q) = %q, want %q", in, got, want)
		}
	}
}

// Vector B1 of sms_api_notes.md (Tencent's CVM example).
func TestSignTC3Vector(t *testing.T) {
	payload := []byte(`{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}`)
	if got := sha256Hex(payload); got != "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064" {
		t.Fatalf("hashed payload %s", got)
	}
	date, sts := tc3StringToSign("cvm", "cvm.tencentcloudapi.com", "application/json; charset=utf-8", payload, 1551113065)
	if date != "2019-02-25" {
		t.Fatalf("date %s: must be the UTC date", date)
	}
	if want := "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"; sts != want {
		t.Fatalf("string to sign\n%s\nwant\n%s", sts, want)
	}
	auth := SignTC3("AKIDEXAMPLE", "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "cvm", "cvm.tencentcloudapi.com", "application/json; charset=utf-8", payload, 1551113065)
	const want = "TC3-HMAC-SHA256 Credential=AKIDEXAMPLE/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
	if auth != want {
		t.Fatalf("Authorization\n%s\nwant\n%s", auth, want)
	}
}

var msg = Message{Phone: "+8613800138000", Code: "012345", Purpose: "login", SentAt: time.Unix(1700000000, 0)}

var fixedNow = func() time.Time { return time.Date(2025, 3, 3, 1, 2, 3, 0, time.UTC) }

// fakeAliyun checks a SendSms request the way dysmsapi would and answers
// with body.
func fakeAliyun(t *testing.T, status int, body string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, _ := url.ParseQuery(r.URL.RawQuery)
		checks := map[string][2]string{
			"method":        {r.Method, "POST"},
			"path":          {r.URL.Path, "/"},
			"PhoneNumbers":  {q.Get("PhoneNumbers"), "+8613800138000"},
			"SignName":      {q.Get("SignName"), "学生资助"},
			"TemplateCode":  {q.Get("TemplateCode"), "SMS_1234"},
			"TemplateParam": {q.Get("TemplateParam"), `{"code":"012345"}`},
			"action":        {r.Header.Get("x-acs-action"), "SendSms"},
			"version":       {r.Header.Get("x-acs-version"), "2017-05-25"},
			"date":          {r.Header.Get("x-acs-date"), "2025-03-03T01:02:03Z"},
			"nonce":         {r.Header.Get("x-acs-signature-nonce"), "nonce-1"},
			"content hash":  {r.Header.Get("x-acs-content-sha256"), sha256Hex(nil)},
		}
		for name, c := range checks {
			if c[0] != c[1] {
				t.Errorf("aliyun request %s = %q, want %q", name, c[0], c[1])
			}
		}
		flat := map[string]string{}
		for k := range q {
			flat[k] = q.Get(k)
		}
		if canon := acs3Query(flat); canon != r.URL.RawQuery {
			t.Errorf("query not in canonical form:\n%s\n%s", r.URL.RawQuery, canon)
		}
		headers := map[string]string{"host": r.Host}
		for k := range r.Header {
			if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-acs-") {
				headers[lk] = r.Header.Get(k)
			}
		}
		b, _ := io.ReadAll(r.Body)
		if want, _ := SignACS3("AKID", "secret", r.Method, r.URL.Path, r.URL.RawQuery, headers, b); r.Header.Get("Authorization") != want {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"Code":"IncompleteSignature","Message":"The request signature does not conform to Aliyun standards."}`)
			t.Errorf("signature mismatch: got %s want %s", r.Header.Get("Authorization"), want)
			return
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAliyunSend(t *testing.T) {
	for _, tt := range []struct {
		name        string
		status      int
		body        string
		wantCode    string
		rateLimited bool
	}{
		{"success", 200, `{"Message":"OK","RequestId":"F655A8D5-B967-440B-8683-DAD6FF8DE990","Code":"OK","BizId":"900619746936498440^0"}`, "", false},
		{"per-number flow control", 200, `{"Message":"触发分钟级流控Permits:1","RequestId":"2184201F-BFB3-446B-B1F2-C746B7BF0657","Code":"isv.BUSINESS_LIMIT_CONTROL"}`, "isv.BUSINESS_LIMIT_CONTROL", true},
		{"illegal number", 200, `{"Message":"手机号码格式错误","RequestId":"x","Code":"isv.MOBILE_NUMBER_ILLEGAL"}`, "isv.MOBILE_NUMBER_ILLEGAL", false},
		{"HTTP error", 403, `{"Message":"no permission","RequestId":"x","Code":"isp.RAM_PERMISSION_DENY"}`, "isp.RAM_PERMISSION_DENY", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := fakeAliyun(t, tt.status, tt.body)
			s := NewAliyun(AliyunConfig{Endpoint: srv.URL, AccessKeyID: "AKID", AccessKeySecret: "secret", SignName: "学生资助", Templates: Templates{"login": "SMS_1234"},
				Now: fixedNow, Nonce: func() string { return "nonce-1" }})
			checkProviderErr(t, s.Send(context.Background(), msg), tt.wantCode, tt.rateLimited)
		})
	}
}

func checkProviderErr(t *testing.T, err error, code string, rateLimited bool) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	var pe *ProviderError
	if !errors.As(err, &pe) || pe.Code != code || errors.Is(err, ErrRateLimited) != rateLimited {
		t.Fatalf("got %v, want provider code %s (rate limited %v)", err, code, rateLimited)
	}
	if strings.Contains(err.Error(), "012345") {
		t.Fatalf("error leaks the code: %v", err)
	}
}

func fakeTencent(t *testing.T, body string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var p struct {
			PhoneNumberSet   []string
			SmsSdkAppId      string
			SignName         string
			TemplateId       string
			TemplateParamSet []string
		}
		if err := json.Unmarshal(b, &p); err != nil {
			t.Errorf("body %s: %v", b, err)
		}
		checks := map[string][2]string{
			"method":    {r.Method, "POST"},
			"path":      {r.URL.Path, "/"},
			"phones":    {strings.Join(p.PhoneNumberSet, ","), "+8613800138000"},
			"app":       {p.SmsSdkAppId, "1400006666"},
			"sign":      {p.SignName, "学生资助"},
			"template":  {p.TemplateId, "449739"},
			"params":    {strings.Join(p.TemplateParamSet, ","), "012345"},
			"type":      {r.Header.Get("Content-Type"), "application/json; charset=utf-8"},
			"action":    {r.Header.Get("X-TC-Action"), "SendSms"},
			"version":   {r.Header.Get("X-TC-Version"), "2021-01-11"},
			"region":    {r.Header.Get("X-TC-Region"), "ap-guangzhou"},
			"timestamp": {r.Header.Get("X-TC-Timestamp"), strconv.FormatInt(fixedNow().Unix(), 10)},
		}
		for name, c := range checks {
			if c[0] != c[1] {
				t.Errorf("tencent request %s = %q, want %q", name, c[0], c[1])
			}
		}
		ts, _ := strconv.ParseInt(r.Header.Get("X-TC-Timestamp"), 10, 64)
		if want := SignTC3("AKID", "secret", "sms", r.Host, r.Header.Get("Content-Type"), b, ts); r.Header.Get("Authorization") != want {
			io.WriteString(w, `{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"The provided credentials could not be validated."},"RequestId":"x"}}`)
			t.Errorf("signature mismatch: got %s want %s", r.Header.Get("Authorization"), want)
			return
		}
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestTencentSend(t *testing.T) {
	status := func(code, message string) string {
		return `{"Response":{"SendStatusSet":[{"SerialNo":"5000:1045710669157053657849499619","PhoneNumber":"+8613800138000","Fee":1,"SessionContext":"","Code":"` +
			code + `","Message":"` + message + `","IsoCode":"CN"}],"RequestId":"a0aabda6-cf91-4f3e-a81f-9198114a2279"}}`
	}
	for _, tt := range []struct {
		name        string
		body        string
		wantCode    string
		rateLimited bool
	}{
		{"success", status("Ok", "send success"), "", false},
		{"thirty-second limit", status("LimitExceeded.PhoneNumberThirtySecondLimit", "30秒内发送短信条数超过上限"), "LimitExceeded.PhoneNumberThirtySecondLimit", true},
		{"daily limit", status("LimitExceeded.PhoneNumberDailyLimit", "单个手机号日发送条数超过上限"), "LimitExceeded.PhoneNumberDailyLimit", true},
		{"app quota is not per-number", `{"Response":{"Error":{"Code":"LimitExceeded.AppDailyLimit","Message":"业务短信日下发条数超过设定的上限"},"RequestId":"x"}}`, "LimitExceeded.AppDailyLimit", false},
		{"request error", `{"Response":{"Error":{"Code":"FailedOperation.SignatureIncorrectOrUnapproved","Message":"签名未审批"},"RequestId":"x"}}`, "FailedOperation.SignatureIncorrectOrUnapproved", false},
		{"no status", `{"Response":{"SendStatusSet":[],"RequestId":"x"}}`, "NoSendStatus", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := fakeTencent(t, tt.body)
			s := NewTencent(TencentConfig{Endpoint: srv.URL, SecretID: "AKID", SecretKey: "secret", SdkAppID: "1400006666", SignName: "学生资助", Templates: Templates{"login": "449739"}, Now: fixedNow})
			checkProviderErr(t, s.Send(context.Background(), msg), tt.wantCode, tt.rateLimited)
		})
	}
}

func TestGatewayUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	if err := NewTencent(TencentConfig{Endpoint: srv.URL, Templates: Templates{"login": "1"}}).Send(context.Background(), msg); err == nil {
		t.Fatal("want an error")
	}
	if err := NewAliyun(AliyunConfig{Endpoint: srv.URL, Templates: Templates{"login": "SMS_1"}}).Send(context.Background(), msg); err == nil {
		t.Fatal("want an error")
	}
}

// A notice goes out under its own template and without the code variable.
func TestGatewaysSendNoticesUnderTheirTemplate(t *testing.T) {
	notice := Message{Phone: "+8613800138000", Purpose: "approved", SentAt: time.Unix(1700000000, 0)}
	var query url.Values
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query, _ = url.ParseQuery(r.URL.RawQuery)
		body, _ = io.ReadAll(r.Body)
		if r.Header.Get("X-TC-Action") != "" {
			io.WriteString(w, `{"Response":{"SendStatusSet":[{"Code":"Ok","Message":"send success"}],"RequestId":"x"}}`)
			return
		}
		io.WriteString(w, `{"Code":"OK","Message":"OK"}`)
	}))
	defer srv.Close()

	a := NewAliyun(AliyunConfig{Endpoint: srv.URL, Templates: Templates{"login": "SMS_1", "approved": "SMS_9"}})
	if err := a.Send(context.Background(), notice); err != nil {
		t.Fatal(err)
	}
	if query.Get("TemplateCode") != "SMS_9" || query.Has("TemplateParam") {
		t.Fatalf("aliyun notice query %v", query)
	}
	tc := NewTencent(TencentConfig{Endpoint: srv.URL, Templates: Templates{"login": "1", "approved": "9"}})
	if err := tc.Send(context.Background(), notice); err != nil {
		t.Fatal(err)
	}
	var p struct {
		TemplateId       string
		TemplateParamSet []string
	}
	if err := json.Unmarshal(body, &p); err != nil || p.TemplateId != "9" || len(p.TemplateParamSet) != 0 {
		t.Fatalf("tencent notice body %s", body)
	}
	if err := NewAliyun(AliyunConfig{Endpoint: srv.URL, Templates: Templates{"login": "SMS_1"}}).Send(context.Background(), notice); !errors.Is(err, ErrNoTemplate) {
		t.Fatalf("notice without a template: %v, want ErrNoTemplate", err)
	}
}
