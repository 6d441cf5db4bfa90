package sms

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// FileSender appends every message as one JSON line
// {"phone","code","purpose","params","sent_at"} to a file (code is empty
// for notices, params present only when the message has some). It is the development and
// end-to-end-test gateway: tests read the code back from the file.
type FileSender struct {
	path string
	mu   sync.Mutex
}

// NewFileSender returns a sender appending to path; the file and its parent
// directory are created on first use.
func NewFileSender(path string) *FileSender {
	return &FileSender{path: path}
}

type fileLine struct {
	Phone   string            `json:"phone"`
	Code    string            `json:"code"`
	Purpose string            `json:"purpose"`
	Params  map[string]string `json:"params,omitempty"`
	SentAt  string            `json:"sent_at"`
}

// Send appends one line. The line is written with a single write on an
// O_APPEND file, so lines from several processes sharing the outbox do not
// interleave; the mutex keeps goroutines of this process in order.
func (f *FileSender) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sms file send: %w", err)
	}
	b, err := json.Marshal(fileLine{
		Phone:   m.Phone,
		Code:    m.Code,
		Purpose: m.Purpose,
		Params:  m.Params,
		SentAt:  m.SentAt.UTC().Format(time.RFC3339Nano),
	})
	if err != nil {
		return fmt.Errorf("sms file send: %w", err)
	}
	b = append(b, '\n')

	f.mu.Lock()
	defer f.mu.Unlock()
	// The outbox holds live codes: keep it private to the service user.
	if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
		return fmt.Errorf("sms file send: %w", err)
	}
	// Opening per message lets operators rotate or truncate the file at
	// any time; this sender is not on a hot path.
	fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("sms file send: %w", err)
	}
	if _, err := fh.Write(b); err != nil {
		fh.Close()
		return fmt.Errorf("sms file send: %w", err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("sms file send: %w", err)
	}
	return nil
}
