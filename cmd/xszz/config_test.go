package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/viper"
)

// configs/xszz.yaml documents every key with its default value.
func TestShippedConfigShowsEveryDefault(t *testing.T) {
	const path = "../../configs/xszz.yaml"
	if _, err := loadConfig(path); err != nil {
		t.Fatal(err)
	}
	v := viper.New()
	v.SetConfigFile(path)
	if err := v.ReadInConfig(); err != nil {
		t.Fatal(err)
	}
	for k, def := range defaults {
		if !v.InConfig(k) {
			t.Errorf("%s: key %s missing", path, k)
			continue
		}
		if got := fmt.Sprint(v.Get(k)); got != fmt.Sprint(def) {
			t.Errorf("%s: %s = %q, default is %q", path, k, got, fmt.Sprint(def))
		}
	}
}

// Every refusal of the configuration is one line that names the key and
// the form it expects.
func TestConfigErrorsNameTheKeyAndTheExpectedForm(t *testing.T) {
	cases := []struct {
		name, yaml string
		env        map[string]string
		want       string
	}{
		{name: "bad duration", env: map[string]string{"XSZZ_IDP_CODE_TTL": "5x"}, want: `config idp.code_ttl: "5x" is not a duration; use a number with a unit, such as 90s, 10m or 12h`},
		{name: "bad number", env: map[string]string{"XSZZ_SMS_PER_HOUR": "lots"}, want: `config sms.per_hour: "lots" is not a whole number (for example 5)`},
		{name: "bad switch", env: map[string]string{"XSZZ_DATABASE_MIGRATE": "perhaps"}, want: `config database.migrate: "perhaps" is not true or false`},
		{name: "missing colon", yaml: "idp:\n  listen 127.0.0.1:8080\n", want: `"idp" is a section and needs indented key: value lines below it`},
		{name: "misspelt key", yaml: "idp:\n  listne: 127.0.0.1:8080\n", want: `unknown key "idp.listne" (did you mean "idp.listen"?)`},
		{name: "relying party URL", env: map[string]string{"XSZZ_OFFICE_URL": "office.example"}, want: `config office.url: must be an absolute http(s) URL`},
		{name: "half a client", env: map[string]string{"XSZZ_COCKPIT_CLIENT_ID": "c1"}, want: `config cockpit.client_id and cockpit.client_secret: set both or neither`},
		{name: "no complaint deadline", env: map[string]string{"XSZZ_OFFICE_COMPLAINT_REPLY_WITHIN": "0s"}, want: `config office.complaint_reply_within: must be a positive duration such as 48h`},
		{name: "a negative quiet period", yaml: "office:\n  consultation_quiet_period: -1h\n", want: `config office.consultation_quiet_period: must be a positive duration such as 48h`},
		{name: "a deadline in days", env: map[string]string{"XSZZ_OFFICE_COMPLAINT_ACCEPT_WITHIN": "2d"}, want: `config office.complaint_accept_within: "2d" is not a duration`},
		{name: "office keys are the office's", yaml: "cockpit:\n  complaint_start_within: 72h\n", want: `unknown key "cockpit.complaint_start_within"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			path := ""
			if tc.yaml != "" {
				path = filepath.Join(t.TempDir(), "xszz.yaml")
				if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := loadConfig(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("got %v, want one line containing %q", err, tc.want)
			}
		})
	}
}

// The office's workflow timings are read from their keys, in a file or
// the environment.
func TestOfficeWorkflowKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "xszz.yaml")
	if err := os.WriteFile(path, []byte("office:\n  consultation_quiet_period: 72h\n  complaint_accept_within: 24h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XSZZ_OFFICE_COMPLAINT_REPLY_WITHIN", "240h")
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	got := officeWorkflow(cfg.Office)
	if got.ConsultationQuiet != 72*time.Hour || got.ComplaintDeadlines.Accept != 24*time.Hour ||
		got.ComplaintDeadlines.Start != 72*time.Hour || got.ComplaintDeadlines.Reply != 240*time.Hour {
		t.Fatalf("office workflow %+v, want quiet 72h, accept 24h, start 72h (the default), reply 240h", got)
	}
}

func TestAnUnknownVariableIsWarnedAbout(t *testing.T) {
	t.Setenv("XSZZ_IDP_LISTN", "127.0.0.1:1")
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], "XSZZ_IDP_LISTN") {
		t.Fatalf("warnings %q, want one naming XSZZ_IDP_LISTN", cfg.Warnings)
	}
}
