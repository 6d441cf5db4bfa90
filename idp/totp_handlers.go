package idp

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/session"
	"github.com/xszz/xszz/idp/totp"
	"github.com/xszz/xszz/internal/phone"
)

// Who must pass a second factor after the SMS code (idp.totp_required_for).
// An account that enrolled is always asked, whatever the policy.
const (
	MFAForAdmin = "admin"
	MFAForAll   = "all"
	MFAForNone  = "none"
)

// Authentication context classes in the ID token's acr claim. A client
// that lists only ACRTwoFactor in acr_values gets a two-factor sign-in or
// none: a one-factor session has to sign in again.
const (
	ACROneFactor = "urn:xszz:acr:sms"
	ACRTwoFactor = "urn:xszz:acr:sms+otp"
)

// AMR values (RFC 8176): "sms" for the SMS code, "otp" for the app code
// or a recovery code.
const (
	amrSMS = "sms"
	amrOTP = "otp"
)

// acrOf names the class a session's factors reach.
func acrOf(amr []string) string {
	if slices.Contains(amr, amrOTP) {
		return ACRTwoFactor
	}
	return ACROneFactor
}

// wantsTwoFactors reads acr_values (OIDC Core §3.1.2.1, a list in order of
// preference): two factors are required when the request names our
// two-factor class and not the one-factor one. Unknown values are ignored,
// as the conformance suite expects.
func wantsTwoFactors(acrValues string) bool {
	vals := strings.Fields(acrValues)
	return slices.Contains(vals, ACRTwoFactor) && !slices.Contains(vals, ACROneFactor)
}

// factorsSatisfy says whether a live session is strong enough for an
// authorization request: the client's acr_values, and the account's own
// policy (an admin session made before the role change, or before the
// policy was tightened, must step up).
func (s *Server) factorsSatisfy(ctx context.Context, sso *session.Session, id *Identity, form url.Values) bool {
	if slices.Contains(sso.AMR, amrOTP) {
		return true
	}
	if wantsTwoFactors(form.Get("acr_values")) {
		return false
	}
	if s.TOTP == nil {
		return true
	}
	need, _, err := s.mfaNeeded(ctx, id.Account, "")
	if err != nil {
		s.Log.ErrorContext(ctx, "second factor policy", "err", err)
		return false
	}
	return !need
}

// mfaNeeded says whether acc must pass a second factor in this sign-in,
// and whether it has one to pass.
func (s *Server) mfaNeeded(ctx context.Context, acc *account.Account, flowToken string) (need, enrolled bool, err error) {
	if s.TOTP == nil {
		return false, false, nil
	}
	enrolled, err = s.TOTP.Enrolled(ctx, acc.ID)
	if err != nil {
		return false, false, err
	}
	switch {
	case enrolled:
		need = true
	case s.Config.TOTPRequiredFor == MFAForAll:
		need = true
	case s.Config.TOTPRequiredFor == MFAForNone:
	default: // MFAForAdmin, the default
		need = acc.Role == account.RoleAdmin
	}
	if !need && flowToken != "" {
		if f, err := s.openFlow(flowToken); err == nil {
			if q, err := url.ParseQuery(f.Query); err == nil {
				need = wantsTwoFactors(q.Get("acr_values"))
			}
		}
	}
	return need, enrolled, nil
}

// --- pending-MFA state

// mfaTTL bounds the time between the SMS code and the second factor.
const mfaTTL = 5 * time.Minute

const mfaCookie = "xszz_mfa"

// mfaState is a sign-in that passed the SMS code and waits for the second
// factor. It travels signed (cookie for the pages, token for the JSON
// API), bound to the account and expiring; its nonce counts the tries in
// the database, so it cannot be replayed or guessed against.
type mfaState struct {
	Account string `json:"a"`
	Flow    string `json:"f,omitempty"`
	Nonce   string `json:"n"`
	Enrol   bool   `json:"e,omitempty"`
	Expires int64  `json:"x"`
}

func (s *Server) mfaMAC(payload string) string {
	m := hmac.New(sha256.New, s.Config.FlowKey)
	m.Write([]byte("xszz-mfa:"))
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) sealMFA(st mfaState) string {
	b, _ := json.Marshal(st)
	p := base64.RawURLEncoding.EncodeToString(b)
	return p + "." + s.mfaMAC(p)
}

func (s *Server) openMFA(token string) (mfaState, error) {
	var st mfaState
	if token == "" || len(token) > maxFlowSize+512 {
		return st, errBadFlow
	}
	p, mac, ok := strings.Cut(token, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(s.mfaMAC(p))) {
		return st, errBadFlow
	}
	b, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil || json.Unmarshal(b, &st) != nil || st.Account == "" || st.Nonce == "" {
		return st, errBadFlow
	}
	if s.Now().Unix() > st.Expires {
		return st, errBadFlow
	}
	return st, nil
}

func randomToken() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ctxMFAToken carries the pending state from completeLogin to apiLogin.
const ctxMFAToken = "xszz.mfa_token"

// secondFactor is called by completeLogin after a correct SMS code: when
// the account needs a second factor it parks the sign-in (no session yet)
// and returns the page of the second step.
func (s *Server) secondFactor(c echo.Context, acc *account.Account, flowToken string) (string, bool, error) {
	ctx := c.Request().Context()
	need, enrolled, err := s.mfaNeeded(ctx, acc, flowToken)
	if err != nil {
		return "", true, internal(err)
	}
	if !need {
		return "", false, nil
	}
	st := mfaState{Account: acc.ID, Flow: flowToken, Nonce: randomToken(), Enrol: !enrolled, Expires: s.Now().Add(mfaTTL).Unix()}
	tok := s.sealMFA(st)
	c.SetCookie(&http.Cookie{Name: mfaCookie, Value: tok, Path: "/", MaxAge: int(mfaTTL / time.Second), HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
	c.Set(ctxMFAToken, tok)
	s.audit(ctx, audit.Event{Type: "login.mfa_required", Result: audit.Success, ActorID: acc.ID, SubjectID: acc.ID, OrgID: acc.OrgID,
		IP: c.RealIP(), UserAgent: c.Request().UserAgent(), Detail: map[string]string{"enrol": strconv.FormatBool(st.Enrol)}})
	if st.Enrol {
		return "/login/totp/enrol", true, nil
	}
	return "/login/totp", true, nil
}

// mfaAnswer is apiLogin's answer when completeLogin parked the sign-in.
func mfaAnswer(c echo.Context, next string) (map[string]any, bool) {
	tok, ok := c.Get(ctxMFAToken).(string)
	if !ok {
		return nil, false
	}
	return map[string]any{"mfa_required": true, "enrolment_required": next == "/login/totp/enrol", "mfa_token": tok, "redirect_to": next}, true
}

func (s *Server) clearMFACookie(c echo.Context) {
	c.SetCookie(&http.Cookie{Name: mfaCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode})
}

var errMFAExpired = &userError{status: http.StatusUnauthorized, code: "mfa_expired", msg: "登录已过期，请重新获取短信验证码登录"}

// pendingMFA returns the parked sign-in from the body's token or the
// cookie, and the account, which must still be allowed to sign in.
func (s *Server) pendingMFA(c echo.Context, bodyToken string) (mfaState, *account.Account, error) {
	tok := bodyToken
	if tok == "" {
		if ck, err := c.Cookie(mfaCookie); err == nil {
			tok = ck.Value
		}
	}
	st, err := s.openMFA(tok)
	if err != nil || s.TOTP == nil {
		return st, nil, errMFAExpired
	}
	acc, err := s.Accounts.Get(c.Request().Context(), st.Account)
	if err != nil || !acc.Active() {
		return st, nil, errMFAExpired
	}
	return st, acc, nil
}

// checkSecondFactor verifies the code of a parked sign-in and starts the
// two-factor session.
func (s *Server) checkSecondFactor(c echo.Context, bodyToken, code string) (string, error) {
	ctx := c.Request().Context()
	ip, ua := c.RealIP(), c.Request().UserAgent()
	st, acc, err := s.pendingMFA(c, bodyToken)
	if err != nil {
		return "", err
	}
	if st.Enrol {
		return "", &userError{status: http.StatusForbidden, code: "mfa_enrolment_required", msg: "请先绑定动态口令"}
	}
	fail := func(reason string, ue *userError) error {
		s.metrics.loginFailures.WithLabelValues(reason).Inc()
		s.audit(ctx, audit.Event{Type: "login.failure", Result: audit.Failure, Reason: reason, ActorID: acc.ID, SubjectID: acc.ID, OrgID: acc.OrgID, IP: ip, UserAgent: ua})
		return ue
	}
	method, err := s.TOTP.Check(ctx, acc.ID, st.Nonce, time.Unix(st.Expires, 0), code)
	var le *totp.LockedError
	switch {
	case err == nil:
	case errors.As(err, &le):
		s.clearMFACookie(c)
		secs := int(le.Until.Sub(s.Now()).Seconds()) + 1
		return "", fail("totp_locked", &userError{status: http.StatusTooManyRequests, code: "locked",
			msg:    fmt.Sprintf("动态口令错误次数过多，请于 %s 后再试", le.Until.In(time.FixedZone("CST", 8*3600)).Format("15:04")),
			header: map[string]string{"Retry-After": strconv.Itoa(secs)}})
	case errors.Is(err, totp.ErrAttemptsExhausted):
		s.clearMFACookie(c)
		return "", fail("totp_exhausted", &userError{status: http.StatusUnauthorized, code: "mfa_expired", msg: "动态口令错误次数过多，请重新获取短信验证码登录"})
	case errors.Is(err, totp.ErrInvalidCode), errors.Is(err, totp.ErrReused):
		return "", fail("invalid_totp", &userError{status: http.StatusUnauthorized, code: "invalid_code", msg: "动态口令错误或已使用，请输入验证器中新的动态口令"})
	case errors.Is(err, totp.ErrNotEnrolled):
		s.clearMFACookie(c)
		return "", errMFAExpired
	default:
		return "", internal(err)
	}
	s.clearMFACookie(c)
	if method == totp.MethodRecovery {
		left, _ := s.TOTP.RecoveryCodesLeft(ctx, acc.ID)
		s.audit(ctx, audit.Event{Type: "totp.recovery_used", Result: audit.Success, ActorID: acc.ID, SubjectID: acc.ID, OrgID: acc.OrgID,
			IP: ip, UserAgent: ua, Detail: map[string]string{"left": strconv.Itoa(left)}})
	}
	return s.startSession(c, acc, []string{amrSMS, amrOTP}, st.Flow)
}

// --- pages

func (s *Server) totpPage(c echo.Context) error {
	st, _, err := s.pendingMFA(c, "")
	if err != nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	if st.Enrol {
		return c.Redirect(http.StatusSeeOther, "/login/totp/enrol")
	}
	return s.render(c, http.StatusOK, "totp.html", map[string]any{"Title": "动态口令"})
}

func (s *Server) totpSubmit(c echo.Context) error {
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, maxBody)
	next, err := s.checkSecondFactor(c, "", c.FormValue("code"))
	if err != nil {
		var ue *userError
		if !errors.As(err, &ue) || ue.status >= 500 {
			return err
		}
		if ue.code == "invalid_code" {
			return s.render(c, ue.status, "totp.html", map[string]any{"Title": "动态口令", "Error": ue.msg})
		}
		for k, v := range ue.header {
			c.Response().Header().Set(k, v)
		}
		return s.render(c, ue.status, "login.html", s.loginData(c, "", "", false, ue.msg, ""))
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// enrolData fills the enrolment page of a new secret.
func (s *Server) enrolData(e *totp.Enrolment, action, title string) (map[string]any, error) {
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

// loginEnrolment starts the enrolment of a parked sign-in; an account that
// has a second factor meanwhile goes to the code page instead.
func (s *Server) loginEnrolment(c echo.Context, bodyToken string) (*totp.Enrolment, error) {
	st, acc, err := s.pendingMFA(c, bodyToken)
	if err != nil {
		return nil, err
	}
	if !st.Enrol {
		return nil, &userError{status: http.StatusConflict, code: "already_enrolled", msg: "已绑定动态口令，请输入动态口令"}
	}
	e, err := s.TOTP.Begin(acc.ID, phone.Mask(acc.Phone))
	if err != nil {
		return nil, internal(err)
	}
	return e, nil
}

func (s *Server) totpEnrolPage(c echo.Context) error {
	e, err := s.loginEnrolment(c, "")
	if err != nil {
		var ue *userError
		if errors.As(err, &ue) && ue.code == "already_enrolled" {
			return c.Redirect(http.StatusSeeOther, "/login/totp")
		}
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	d, err := s.enrolData(e, "/login/totp/enrol", "绑定动态口令")
	if err != nil {
		return internal(err)
	}
	d["Required"] = true
	return s.render(c, http.StatusOK, "totp_enrol.html", d)
}

// confirmLoginEnrolment finishes the enrolment of a parked sign-in: the
// first code proves the app works and, being the second factor, completes
// the sign-in.
func (s *Server) confirmLoginEnrolment(c echo.Context, bodyToken, enrolToken, code string) ([]string, string, error) {
	ctx := c.Request().Context()
	st, acc, err := s.pendingMFA(c, bodyToken)
	if err != nil {
		return nil, "", err
	}
	if !st.Enrol {
		return nil, "", &userError{status: http.StatusConflict, code: "already_enrolled", msg: "已绑定动态口令，请输入动态口令"}
	}
	codes, err := s.TOTP.Confirm(ctx, acc.ID, enrolToken, code)
	switch {
	case err == nil:
	case errors.Is(err, totp.ErrInvalidCode):
		return nil, "", &userError{status: http.StatusUnauthorized, code: "invalid_code", msg: "动态口令错误，请核对手机时间后输入验证器中显示的 6 位数字"}
	case errors.Is(err, totp.ErrEnrolmentExpired):
		return nil, "", &userError{status: http.StatusBadRequest, code: "enrolment_expired", msg: "绑定已过期，请刷新页面重新扫码"}
	case errors.Is(err, totp.ErrAlreadyEnrolled):
		return nil, "", &userError{status: http.StatusConflict, code: "already_enrolled", msg: "已绑定动态口令，请输入动态口令"}
	default:
		return nil, "", internal(err)
	}
	s.audit(ctx, audit.Event{Type: "totp.enrolled", Result: audit.Success, ActorID: acc.ID, SubjectID: acc.ID, OrgID: acc.OrgID, IP: c.RealIP(), UserAgent: c.Request().UserAgent()})
	s.clearMFACookie(c)
	next, err := s.startSession(c, acc, []string{amrSMS, amrOTP}, st.Flow)
	if err != nil {
		return nil, "", err
	}
	return codes, next, nil
}

func (s *Server) totpEnrolSubmit(c echo.Context) error {
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, maxBody)
	codes, next, err := s.confirmLoginEnrolment(c, "", c.FormValue("token"), c.FormValue("code"))
	if err != nil {
		var ue *userError
		if !errors.As(err, &ue) || ue.status >= 500 {
			return err
		}
		if ue.code == "invalid_code" || ue.code == "enrolment_expired" {
			e, err := s.loginEnrolment(c, "")
			if err != nil {
				return c.Redirect(http.StatusSeeOther, "/login")
			}
			d, err := s.enrolData(e, "/login/totp/enrol", "绑定动态口令")
			if err != nil {
				return internal(err)
			}
			d["Required"], d["Error"] = true, ue.msg
			return s.render(c, ue.status, "totp_enrol.html", d)
		}
		if ue.code == "already_enrolled" {
			return c.Redirect(http.StatusSeeOther, "/login/totp")
		}
		return s.render(c, ue.status, "login.html", s.loginData(c, "", "", false, ue.msg, ""))
	}
	return s.render(c, http.StatusOK, "totp_recovery.html", map[string]any{"Title": "恢复码", "Codes": codes, "Next": next})
}

// --- JSON API

type totpRequest struct {
	Code     string `json:"code"`
	MFAToken string `json:"mfa_token,omitempty"`
}

func (s *Server) apiLoginTOTP(c echo.Context) error {
	var req totpRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	next, err := s.checkSecondFactor(c, req.MFAToken, req.Code)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"redirect_to": next})
}

type enrolRequest struct {
	MFAToken   string `json:"mfa_token,omitempty"`
	EnrolToken string `json:"enrol_token,omitempty"`
	Code       string `json:"code,omitempty"`
}

// apiLoginEnrol offers a secret to a parked sign-in of an account without
// a second factor.
func (s *Server) apiLoginEnrol(c echo.Context) error {
	var req enrolRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	e, err := s.loginEnrolment(c, req.MFAToken)
	if err != nil {
		return err
	}
	img, err := e.PNG(240)
	if err != nil {
		return internal(err)
	}
	return c.JSON(http.StatusOK, map[string]any{
		"secret": e.Secret, "otpauth_url": e.URL, "enrol_token": e.Token, "expires_at": e.ExpiresAt.Unix(),
		"qr_png": "data:image/png;base64," + base64.StdEncoding.EncodeToString(img),
	})
}

func (s *Server) apiLoginEnrolConfirm(c echo.Context) error {
	var req enrolRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	codes, next, err := s.confirmLoginEnrolment(c, req.MFAToken, req.EnrolToken, req.Code)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"recovery_codes": codes, "redirect_to": next})
}
