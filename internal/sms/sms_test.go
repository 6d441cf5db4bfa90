package sms_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xszz/xszz/internal/sms"
)

var sentAt = time.Date(2025, 3, 1, 8, 30, 0, 0, time.FixedZone("CST", 8*3600))

func TestFileSenderAppendsJSONLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "sms.outbox")
	s := sms.NewFileSender(path)
	const n = 50
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := sms.Message{Phone: "+8613800138000", Code: fmt.Sprintf("%06d", i), Purpose: "login", SentAt: sentAt}
			if err := s.Send(context.Background(), m); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fi, _ := f.Stat(); fi.Mode().Perm() != 0o600 {
		t.Errorf("outbox mode %v, want 0600", fi.Mode().Perm())
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line map[string]string
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if len(line) != 4 || line["phone"] != "+8613800138000" || line["purpose"] != "login" || line["sent_at"] != "2025-03-01T00:30:00Z" {
			t.Fatalf("unexpected line %q", sc.Text())
		}
		seen[line["code"]] = true
	}
	if len(seen) != n {
		t.Fatalf("got %d distinct lines, want %d", len(seen), n)
	}
}

func TestFileSenderHonoursCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	path := filepath.Join(t.TempDir(), "sms.outbox")
	if err := sms.NewFileSender(path).Send(ctx, sms.Message{}); err == nil {
		t.Fatal("want error on cancelled context")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("nothing should be written")
	}
}

func TestLogSenderShowsCode(t *testing.T) {
	var buf bytes.Buffer
	s := sms.NewLogSender(slog.New(slog.NewJSONHandler(&buf, nil)))
	if err := s.Send(context.Background(), sms.Message{Phone: "+8613800138000", Code: "012345", Purpose: "login", SentAt: sentAt}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{`"level":"INFO"`, `"code":"012345"`, `"phone":"+8613800138000"`, "DEV ONLY"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %s lacks %s", out, want)
		}
	}
}

// Notices carry no code: the file and log senders write them all the same,
// with the purpose that picks their template.
func TestDevSendersWriteNotices(t *testing.T) {
	notice := sms.Message{Phone: "+8613800138000", Purpose: sms.NoticePhoneChanged, SentAt: sentAt}
	path := filepath.Join(t.TempDir(), "sms.outbox")
	if err := sms.NewFileSender(path).Send(context.Background(), notice); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(b, &line); err != nil {
		t.Fatal(err)
	}
	if line["purpose"] != "phone_changed" || line["code"] != "" || line["phone"] != "+8613800138000" {
		t.Fatalf("outbox line %s", b)
	}
	var buf bytes.Buffer
	if err := sms.NewLogSender(slog.New(slog.NewJSONHandler(&buf, nil))).Send(context.Background(), notice); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"purpose":"phone_changed"`) {
		t.Fatalf("log %s", buf.String())
	}
}
