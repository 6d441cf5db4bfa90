package notice

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/xszz/xszz/internal/web"
	"github.com/xszz/xszz/office/directory"
)

// Attachment limits.
const (
	MaxFileSize = 10 << 20
	MaxFiles    = 5
)

// allowedTypes are the attachment types, as read from the content (Office
// documents are zip containers and sniff as such).
var allowedTypes = map[string]bool{
	"application/pdf": true, "image/png": true, "image/jpeg": true, "image/gif": true,
	"application/zip": true, "text/plain; charset=utf-8": true, "application/msword": true,
}

// Upload is an attachment as received.
type Upload struct {
	Name string
	Data []byte
}

// File is a stored attachment.
type File struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
	Size int64  `json:"size"`
}

// Files stores attachments in a folder, under random names: the given
// name is only ever shown, never used as a path.
type Files struct{ Dir string }

// CheckName refuses file names with path tricks or invisible characters.
func CheckName(name string) error {
	switch {
	case name == "" || utf8.RuneCountInString(name) > 100 || !utf8.ValidString(name):
		return bad("附件名应为 1–100 个字符")
	case strings.ContainsAny(name, `/\:*?"<>|`) || strings.Contains(name, "..") || strings.HasPrefix(name, "."):
		return bad("附件名含有不允许的字符")
	}
	for _, r := range name {
		if unicode.IsControl(r) || (r >= 0x200b && r <= 0x200f) || r == 0x202e || r == 0xfeff {
			return bad("附件名含有不可见字符")
		}
	}
	return nil
}

// sniff reads the type from the content. Legacy .doc files (OLE2) are
// recognised by their signature, which net/http does not know.
func sniff(data []byte) string {
	if len(data) >= 8 && string(data[:8]) == "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" {
		return "application/msword"
	}
	return http.DetectContentType(data)
}

// Check validates an upload.
func Check(u Upload) (string, error) {
	if err := CheckName(u.Name); err != nil {
		return "", err
	}
	if len(u.Data) == 0 || len(u.Data) > MaxFileSize {
		return "", bad("附件大小应在 10 MB 以内且不能为空")
	}
	t := sniff(u.Data)
	if !allowedTypes[t] {
		return "", web.Errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", "只能上传 PDF、图片、Word/Excel 文档、压缩包或纯文本")
	}
	return t, nil
}

// Save writes an upload and records it in tx.
func (f *Files) Save(ctx context.Context, tx *sql.Tx, noticeID int64, u Upload, now time.Time) (string, error) {
	if f == nil {
		return "", bad("未配置附件存储")
	}
	typ, err := Check(u)
	if err != nil {
		return "", err
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("attachment name: %w", err)
	}
	stored := hex.EncodeToString(b[:])
	if err := os.MkdirAll(f.Dir, 0o750); err != nil {
		return "", fmt.Errorf("attachment folder: %w", err)
	}
	if err := os.WriteFile(filepath.Join(f.Dir, stored), u.Data, 0o640); err != nil {
		return "", fmt.Errorf("write attachment: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO office_notice_files (notice_id, name, mime, size, stored, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		noticeID, u.Name, typ, len(u.Data), stored, now.Unix()); err != nil {
		f.remove(stored)
		return "", fmt.Errorf("record attachment: %w", err)
	}
	return stored, nil
}

func (f *Files) remove(stored string) {
	if f != nil {
		os.Remove(filepath.Join(f.Dir, stored)) // cleanup of a failed write; nothing refers to it
	}
}

// files lists the attachments of a notice (the original's).
func (s *Service) files(ctx context.Context, root int64) ([]File, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT id, name, mime, size FROM office_notice_files WHERE notice_id = $1 ORDER BY id`, root)
	if err != nil {
		return nil, fmt.Errorf("list attachments: %w", err)
	}
	defer rows.Close()
	out := []File{}
	for rows.Next() {
		var f File
		if err := rows.Scan(&f.ID, &f.Name, &f.Type, &f.Size); err != nil {
			return nil, fmt.Errorf("list attachments: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// Open returns an attachment for a viewer who may read its notice.
func (s *Service) Open(ctx context.Context, v directory.Viewer, fileID int64) (File, *os.File, error) {
	var (
		f      File
		notice int64
		stored string
	)
	err := s.DB.QueryRowContext(ctx, `SELECT id, notice_id, name, mime, size, stored FROM office_notice_files WHERE id = $1`, fileID).
		Scan(&f.ID, &notice, &f.Name, &f.Type, &f.Size, &stored)
	if errors.Is(err, sql.ErrNoRows) {
		return f, nil, notFound()
	}
	if err != nil {
		return f, nil, fmt.Errorf("load attachment %d: %w", fileID, err)
	}
	if _, _, _, err := s.access(ctx, v, notice); err != nil {
		return f, nil, err
	}
	if s.Files == nil {
		return f, nil, notFound()
	}
	fh, err := os.Open(filepath.Join(s.Files.Dir, stored))
	if err != nil {
		return f, nil, fmt.Errorf("open attachment %d: %w", fileID, err)
	}
	return f, fh, nil
}
