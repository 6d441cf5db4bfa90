package signin

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/idpweb"
	"github.com/xszz/xszz/idp/mfa"
	"github.com/xszz/xszz/idp/totp"
	"github.com/xszz/xszz/internal/phone"
	"github.com/xszz/xszz/internal/web"
)

// mfaNeeded says whether acc must pass a second factor in this sign-in
// (the request parked in flowToken may ask for one), and whether it has
// one to pass.
func (s *SignIn) mfaNeeded(ctx context.Context, acc *account.Account, flowToken string) (need, enrolled bool, err error) {
	var acr string
	if flowToken != "" {
		if f, err := s.Flows.Open(flowToken); err == nil {
			if q, err := url.ParseQuery(f.Query); err == nil {
				acr = q.Get("acr_values")
			}
		}
	}
	return s.MFA.Needed(ctx, acc, acr)
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

func (s *SignIn) mfaMAC(payload string) string { return s.Flows.Sum("xszz-mfa:", payload) }

func (s *SignIn) sealMFA(st mfaState) string {
	b, _ := json.Marshal(st)
	p := base64.RawURLEncoding.EncodeToString(b)
	return p + "." + s.mfaMAC(p)
}

func (s *SignIn) openMFA(token string) (mfaState, error) {
	var st mfaState
	if token == "" || len(token) > idpweb.MaxFlowSize+512 {
		return st, idpweb.ErrBadFlow
	}
	p, mac, ok := strings.Cut(token, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(s.mfaMAC(p))) {
		return st, idpweb.ErrBadFlow
	}
	b, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil || json.Unmarshal(b, &st) != nil || st.Account == "" || st.Nonce == "" {
		return st, idpweb.ErrBadFlow
	}
	if s.Now().Unix() > st.Expires {
		return st, idpweb.ErrBadFlow
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
func (s *SignIn) secondFactor(c echo.Context, acc *account.Account, flowToken string) (string, bool, error) {
	ctx := c.Request().Context()
	need, enrolled, err := s.mfaNeeded(ctx, acc, flowToken)
	if err != nil {
		return "", true, web.Internal(err)
	}
	if !need {
		return "", false, nil
	}
	st := mfaState{Account: acc.ID, Flow: flowToken, Nonce: randomToken(), Enrol: !enrolled, Expires: s.Now().Add(mfaTTL).Unix()}
	tok := s.sealMFA(st)
	c.SetCookie(&http.Cookie{Name: mfaCookie, Value: tok, Path: "/", MaxAge: int(mfaTTL / time.Second), HttpOnly: true, Secure: s.cookie.Secure, SameSite: http.SameSiteStrictMode})
	c.Set(ctxMFAToken, tok)
	s.Events.Record(ctx, audit.Event{Type: "login.mfa_required", Result: audit.Success, ActorID: acc.ID, SubjectID: acc.ID, OrgID: acc.OrgID,
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

func (s *SignIn) clearMFACookie(c echo.Context) {
	c.SetCookie(&http.Cookie{Name: mfaCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.cookie.Secure, SameSite: http.SameSiteStrictMode})
}

var errMFAExpired = &web.Error{Status: http.StatusUnauthorized, Code: "mfa_expired", Message: "登录已过期，请重新获取短信验证码登录"}

// pendingMFA returns the parked sign-in from the body's token or the
// cookie, and the account, which must still be allowed to sign in.
func (s *SignIn) pendingMFA(c echo.Context, bodyToken string) (mfaState, *account.Account, error) {
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
func (s *SignIn) checkSecondFactor(c echo.Context, bodyToken, code string) (string, error) {
	ctx := c.Request().Context()
	ip, ua := c.RealIP(), c.Request().UserAgent()
	st, acc, err := s.pendingMFA(c, bodyToken)
	if err != nil {
		return "", err
	}
	if st.Enrol {
		return "", &web.Error{Status: http.StatusForbidden, Code: "mfa_enrolment_required", Message: "请先绑定动态口令"}
	}
	fail := func(reason string, ue *web.Error) error {
		s.Metrics.LoginFailures.WithLabelValues(reason).Inc()
		s.Events.Record(ctx, audit.Event{Type: "login.failure", Result: audit.Failure, Reason: reason, ActorID: acc.ID, SubjectID: acc.ID, OrgID: acc.OrgID, IP: ip, UserAgent: ua})
		return ue
	}
	method, err := s.TOTP.Check(ctx, acc.ID, st.Nonce, time.Unix(st.Expires, 0), code)
	var le *totp.LockedError
	switch {
	case err == nil:
	case errors.As(err, &le):
		s.clearMFACookie(c)
		secs := int(le.Until.Sub(s.Now()).Seconds()) + 1
		return "", fail("totp_locked", &web.Error{Status: http.StatusTooManyRequests, Code: "locked",
			Message: fmt.Sprintf("动态口令错误次数过多，请于 %s 后再试", le.Until.In(time.FixedZone("CST", 8*3600)).Format("15:04")),
			Header:  map[string]string{"Retry-After": strconv.Itoa(secs)}})
	case errors.Is(err, totp.ErrAttemptsExhausted):
		s.clearMFACookie(c)
		return "", fail("totp_exhausted", &web.Error{Status: http.StatusUnauthorized, Code: "mfa_expired", Message: "动态口令错误次数过多，请重新获取短信验证码登录"})
	case errors.Is(err, totp.ErrInvalidCode), errors.Is(err, totp.ErrReused):
		return "", fail("invalid_totp", &web.Error{Status: http.StatusUnauthorized, Code: "invalid_code", Message: "动态口令错误或已使用，请输入验证器中新的动态口令"})
	case errors.Is(err, totp.ErrNotEnrolled):
		s.clearMFACookie(c)
		return "", errMFAExpired
	default:
		return "", web.Internal(err)
	}
	s.clearMFACookie(c)
	if method == totp.MethodRecovery {
		left, _ := s.TOTP.RecoveryCodesLeft(ctx, acc.ID)
		s.Events.Record(ctx, audit.Event{Type: "totp.recovery_used", Result: audit.Success, ActorID: acc.ID, SubjectID: acc.ID, OrgID: acc.OrgID,
			IP: ip, UserAgent: ua, Detail: map[string]string{"left": strconv.Itoa(left)}})
	}
	return s.startSession(c, acc, []string{mfa.AMRSMS, mfa.AMROTP}, st.Flow)
}

// --- pages

func (s *SignIn) totpPage(c echo.Context) error {
	st, _, err := s.pendingMFA(c, "")
	if err != nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	if st.Enrol {
		return c.Redirect(http.StatusSeeOther, "/login/totp/enrol")
	}
	return idpweb.Render(c, http.StatusOK, "totp.html", map[string]any{"Title": "动态口令"})
}

func (s *SignIn) totpSubmit(c echo.Context) error {
	idpweb.LimitBody(c)
	// Should the parked sign-in end here (locked, exhausted), the login
	// page it falls back to keeps the way back to where it was going.
	parked, _, _ := s.pendingMFA(c, "")
	next, err := s.checkSecondFactor(c, "", c.FormValue("code"))
	if err != nil {
		var ue *web.Error
		if !errors.As(err, &ue) || ue.Status >= 500 {
			return err
		}
		if ue.Code == "invalid_code" {
			return idpweb.Render(c, ue.Status, "totp.html", map[string]any{"Title": "动态口令", "Error": ue.Message})
		}
		for k, v := range ue.Header {
			c.Response().Header().Set(k, v)
		}
		return idpweb.Render(c, ue.Status, "login.html", s.loginData(c, parked.Flow, "", false, ue.Message, ""))
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// loginEnrolment starts the enrolment of a parked sign-in; an account that
// has a second factor meanwhile goes to the code page instead.
func (s *SignIn) loginEnrolment(c echo.Context, bodyToken string) (*totp.Enrolment, error) {
	st, acc, err := s.pendingMFA(c, bodyToken)
	if err != nil {
		return nil, err
	}
	if !st.Enrol {
		return nil, &web.Error{Status: http.StatusConflict, Code: "already_enrolled", Message: "已绑定动态口令，请输入动态口令"}
	}
	e, err := s.TOTP.Begin(acc.ID, phone.Mask(acc.Phone))
	if err != nil {
		return nil, web.Internal(err)
	}
	return e, nil
}

func (s *SignIn) totpEnrolPage(c echo.Context) error {
	e, err := s.loginEnrolment(c, "")
	if err != nil {
		var ue *web.Error
		if errors.As(err, &ue) && ue.Code == "already_enrolled" {
			return c.Redirect(http.StatusSeeOther, "/login/totp")
		}
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	d, err := idpweb.EnrolData(e, "/login/totp/enrol", "绑定动态口令")
	if err != nil {
		return web.Internal(err)
	}
	d["Required"] = true
	return idpweb.Render(c, http.StatusOK, "totp_enrol.html", d)
}

// confirmLoginEnrolment finishes the enrolment of a parked sign-in: the
// first code proves the app works and, being the second factor, completes
// the sign-in.
func (s *SignIn) confirmLoginEnrolment(c echo.Context, bodyToken, enrolToken, code string) ([]string, string, error) {
	ctx := c.Request().Context()
	st, acc, err := s.pendingMFA(c, bodyToken)
	if err != nil {
		return nil, "", err
	}
	if !st.Enrol {
		return nil, "", &web.Error{Status: http.StatusConflict, Code: "already_enrolled", Message: "已绑定动态口令，请输入动态口令"}
	}
	codes, err := s.TOTP.Confirm(ctx, acc.ID, enrolToken, code)
	switch {
	case err == nil:
	case errors.Is(err, totp.ErrInvalidCode):
		return nil, "", &web.Error{Status: http.StatusUnauthorized, Code: "invalid_code", Message: "动态口令错误，请核对手机时间后输入验证器中显示的 6 位数字"}
	case errors.Is(err, totp.ErrEnrolmentExpired):
		return nil, "", &web.Error{Status: http.StatusBadRequest, Code: "enrolment_expired", Message: "绑定已过期，请刷新页面重新扫码"}
	case errors.Is(err, totp.ErrAlreadyEnrolled):
		return nil, "", &web.Error{Status: http.StatusConflict, Code: "already_enrolled", Message: "已绑定动态口令，请输入动态口令"}
	default:
		return nil, "", web.Internal(err)
	}
	s.Events.Record(ctx, audit.Event{Type: "totp.enrolled", Result: audit.Success, ActorID: acc.ID, SubjectID: acc.ID, OrgID: acc.OrgID, IP: c.RealIP(), UserAgent: c.Request().UserAgent()})
	s.clearMFACookie(c)
	next, err := s.startSession(c, acc, []string{mfa.AMRSMS, mfa.AMROTP}, st.Flow)
	if err != nil {
		return nil, "", err
	}
	return codes, next, nil
}

func (s *SignIn) totpEnrolSubmit(c echo.Context) error {
	idpweb.LimitBody(c)
	codes, next, err := s.confirmLoginEnrolment(c, "", c.FormValue("token"), c.FormValue("code"))
	if err != nil {
		var ue *web.Error
		if !errors.As(err, &ue) || ue.Status >= 500 {
			return err
		}
		if ue.Code == "invalid_code" || ue.Code == "enrolment_expired" {
			e, err := s.loginEnrolment(c, "")
			if err != nil {
				return c.Redirect(http.StatusSeeOther, "/login")
			}
			d, err := idpweb.EnrolData(e, "/login/totp/enrol", "绑定动态口令")
			if err != nil {
				return web.Internal(err)
			}
			d["Required"], d["Error"] = true, ue.Message
			return idpweb.Render(c, ue.Status, "totp_enrol.html", d)
		}
		if ue.Code == "already_enrolled" {
			return c.Redirect(http.StatusSeeOther, "/login/totp")
		}
		return idpweb.Render(c, ue.Status, "login.html", s.loginData(c, "", "", false, ue.Message, ""))
	}
	return idpweb.Render(c, http.StatusOK, "totp_recovery.html", map[string]any{"Title": "恢复码", "Codes": codes, "Next": next})
}

// --- JSON API

type totpRequest struct {
	Code     string `json:"code"`
	MFAToken string `json:"mfa_token,omitempty"`
}

func (s *SignIn) apiLoginTOTP(c echo.Context) error {
	var req totpRequest
	if err := idpweb.BindJSON(c, &req); err != nil {
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
func (s *SignIn) apiLoginEnrol(c echo.Context) error {
	var req enrolRequest
	if err := idpweb.BindJSON(c, &req); err != nil {
		return err
	}
	e, err := s.loginEnrolment(c, req.MFAToken)
	if err != nil {
		return err
	}
	img, err := e.PNG(240)
	if err != nil {
		return web.Internal(err)
	}
	return c.JSON(http.StatusOK, map[string]any{
		"secret": e.Secret, "otpauth_url": e.URL, "enrol_token": e.Token, "expires_at": e.ExpiresAt.Unix(),
		"qr_png": "data:image/png;base64," + base64.StdEncoding.EncodeToString(img),
	})
}

func (s *SignIn) apiLoginEnrolConfirm(c echo.Context) error {
	var req enrolRequest
	if err := idpweb.BindJSON(c, &req); err != nil {
		return err
	}
	codes, next, err := s.confirmLoginEnrolment(c, req.MFAToken, req.EnrolToken, req.Code)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"recovery_codes": codes, "redirect_to": next})
}
