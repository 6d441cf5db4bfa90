package audit_test

import (
	"context"
	"strings"
	"testing"

	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/sqldb/sqldbtest"
)

func TestMaskPhone(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"13800138000", "138****8000"},
		{"+8613800138000", "138****8000"},
		{"8613800138000", "138****8000"},
		{"138 0013 8000", "138****8000"},
		{"138-0013-8000", "138****8000"},
		{"138****8000", "138****8000"},
		{"+86138****8000", "138****8000"},
		{"1380013800", "***********"},
		{"138001380001", "***********"},
		{"1380013800x", "***********"},
		{"13a0013800b", "***********"},
		{"", "***********"},
	}
	for _, tt := range tests {
		if got := audit.MaskPhone(tt.in); got != tt.want {
			t.Errorf("MaskPhone(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRecordScrubsSecretsAndPhones(t *testing.T) {
	t.Parallel()
	sqldbtest.Run(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		l, _ := newLog(db)
		e := audit.Event{Type: "sms.sent", Result: audit.Failure, Reason: "gateway rejected 13800138000",
			Detail: map[string]string{
				"phone":         "+8613800138000",
				"otp":           "123456",
				"code":          "654321",
				"sms_code":      "111111",
				"access_token":  "ey…",
				"client_secret": "s3cr3t",
				"note":          "called 13900139000, 15000150000 back",
				"account_id":    "1234567890123",
				"gateway":       "aliyun",
			}}
		if err := l.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
		got, err := l.Search(ctx, audit.Query{})
		if err != nil {
			t.Fatal(err)
		}
		d := got[0].Detail
		want := map[string]string{
			"phone": "138****8000", "otp": audit.Redacted, "code": audit.Redacted, "sms_code": audit.Redacted,
			"access_token": audit.Redacted, "client_secret": audit.Redacted,
			"note": "called 139****9000, 150****0000 back", "account_id": "1234567890123", "gateway": "aliyun",
		}
		for k, v := range want {
			if d[k] != v {
				t.Errorf("detail[%q] = %q, want %q", k, d[k], v)
			}
		}
		if r := got[0].Reason; strings.Contains(r, "13800138000") {
			t.Errorf("reason kept the full number: %q", r)
		}
		verifyOK(t, l, 1)
	})
}
