package sms

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// fakeWebhook checks the body signature as a receiver must, and answers
// with status.
func fakeWebhook(t *testing.T, secret string, status int, got *WebhookBody) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("webhook request %s %q", r.Method, r.Header.Get("Content-Type"))
		}
		if want := SignWebhook([]byte(secret), b); !hmac.Equal([]byte(r.Header.Get(WebhookSignatureHeader)), []byte(want)) {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, "bad signature")
			return
		}
		if err := json.Unmarshal(b, got); err != nil {
			t.Errorf("body %s: %v", b, err)
		}
		w.WriteHeader(status)
		io.WriteString(w, `{"echo":"012345"}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestWebhookSend(t *testing.T) {
	for _, tt := range []struct {
		name        string
		secret      string // the sender's; the receiver holds "s3cret"
		status      int
		msg         Message
		templates   Templates
		want        WebhookBody
		wantCode    string
		rateLimited bool
	}{
		{name: "code under the purpose's own name", secret: "s3cret", status: 200, msg: msg,
			want: WebhookBody{Phone: "+8613800138000", Template: "login", Params: map[string]string{"code": "012345"}, SentAt: fixedNow().Unix()}},
		{name: "notice through a mapped template", secret: "s3cret", status: 202,
			msg: Message{Phone: "+8613800138000", Purpose: "approved"}, templates: Templates{"approved": "xszz_approved_v2"},
			want: WebhookBody{Phone: "+8613800138000", Template: "xszz_approved_v2", Params: map[string]string{}, SentAt: fixedNow().Unix()}},
		{name: "receiver's flow control", secret: "s3cret", status: 429, msg: msg, wantCode: "429", rateLimited: true},
		{name: "receiver error", secret: "s3cret", status: 500, msg: msg, wantCode: "500"},
		{name: "wrong secret is refused by the receiver", secret: "guess", status: 200, msg: msg, wantCode: "401"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got WebhookBody
			srv := fakeWebhook(t, "s3cret", tt.status, &got)
			s := NewWebhook(WebhookConfig{URL: srv.URL + "/sms", Secret: []byte(tt.secret), Templates: tt.templates, Now: fixedNow})
			err := s.Send(context.Background(), tt.msg)
			checkProviderErr(t, err, tt.wantCode, tt.rateLimited)
			if tt.wantCode != "" {
				return
			}
			if got.Phone != tt.want.Phone || got.Template != tt.want.Template || got.SentAt != tt.want.SentAt || len(got.Params) != len(tt.want.Params) {
				t.Fatalf("receiver got %+v, want %+v", got, tt.want)
			}
			for k, v := range tt.want.Params {
				if got.Params[k] != v {
					t.Fatalf("param %s = %q, want %q", k, got.Params[k], v)
				}
			}
		})
	}
}
