package idpweb

import (
	"encoding/base64"
	"html/template"
	"strings"

	"github.com/xszz/xszz/idp/totp"
)

// EnrolData fills the enrolment page (totp_enrol.html) of a new secret.
func EnrolData(e *totp.Enrolment, action, title string) (map[string]any, error) {
	img, err := e.PNG(240)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"Title": title, "Action": action, "Token": e.Token, "Secret": groupSecret(e.Secret),
		"QR": template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(img)),
	}, nil
}

// groupSecret spaces the base32 secret in fours for typing.
func groupSecret(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}
