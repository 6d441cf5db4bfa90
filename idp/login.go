package idp

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/idp/phone"
	"github.com/xszz/xszz/idp/session"
	"github.com/xszz/xszz/internal/sqldb"
)

// maxBody bounds what the sign-in endpoints read.
const maxBody = 4 << 10

func (s *Server) loginPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "login.html", s.loginData(c, c.QueryParam("flow"), "", false, "", ""))
}

// loginData fills the login page; the client's name tells the person where
// they are signing in to.
func (s *Server) loginData(c echo.Context, flowToken, phoneNumber string, sent bool, errMsg, notice string) map[string]any {
	d := map[string]any{"Title": "登录", "Flow": flowToken, "Phone": phoneNumber, "CodeSent": sent, "Error": errMsg, "Notice": notice}
	if f, err := s.openFlow(flowToken); err == nil {
		if q, err := url.ParseQuery(f.Query); err == nil {
			if cl, err := s.Clients.Get(c.Request().Context(), q.Get("client_id")); err == nil {
				d["ClientName"] = cl.Name
			}
		}
	} else {
		d["Flow"] = ""
	}
	return d
}

func (s *Server) loginSendForm(c echo.Context) error {
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, maxBody)
	raw, flowToken := c.FormValue("phone"), c.FormValue("flow")
	e164, _, err := s.sendCode(c, raw, otp.PurposeLogin)
	if err != nil {
		status, msg := sendErrorStatus(err)
		return s.render(c, status, "login.html", s.loginData(c, flowToken, raw, false, msg, ""))
	}
	// The number goes back into the forms as typed: the code form posts it
	// again. Only the notice shows it masked.
	minutes := max(1, int(s.OTP.CodeTTL()/time.Minute))
	notice := "验证码已发送至 " + phone.Mask(e164) + "，" + strconv.Itoa(minutes) + " 分钟内有效。"
	return s.render(c, http.StatusOK, "login.html", s.loginData(c, flowToken, raw, true, "", notice))
}

func (s *Server) loginVerifyForm(c echo.Context) error {
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, maxBody)
	raw, code, flowToken := c.FormValue("phone"), c.FormValue("code"), c.FormValue("flow")
	next, err := s.completeLogin(c, raw, code, flowToken)
	if err != nil {
		var ue *userError
		if !errors.As(err, &ue) || ue.status >= 500 {
			return err
		}
		return s.render(c, ue.status, "login.html", s.loginData(c, flowToken, raw, true, ue.msg, ""))
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// sendCode checks the number and asks for a code; the answer does not
// depend on whether the number has an account (the SMS gate decides that
// out of sight).
func (s *Server) sendCode(c echo.Context, raw string, purpose otp.Purpose) (string, time.Duration, error) {
	ctx := c.Request().Context()
	e164, err := phone.Normalize(raw)
	if err != nil {
		s.metrics.smsSent.WithLabelValues(string(purpose), "invalid_phone").Inc()
		return "", 0, err
	}
	if s.Challenge != nil {
		if err := s.Challenge.Check(c); err != nil {
			s.metrics.smsSent.WithLabelValues(string(purpose), "challenge_failed").Inc()
			return "", 0, &userError{status: http.StatusBadRequest, code: "challenge_failed", msg: "请先完成人机验证", cause: err}
		}
	}
	retry, err := s.OTP.Send(ctx, e164, purpose, c.RealIP())
	// The refusing limit is a label, so the deployment-wide budget being
	// hit (an SMS-bombing storm) can be alerted on: result="refused_global".
	result := "sent"
	var rl *otp.RateLimitError
	switch {
	case errors.As(err, &rl):
		result = "refused_" + rl.Scope
	case err != nil:
		result = "error"
	}
	s.metrics.smsSent.WithLabelValues(string(purpose), result).Inc()
	s.audit(ctx, audit.Event{Type: "sms.sent", Result: resultOf(err), Reason: reasonOf(err), SubjectID: audit.MaskPhone(e164),
		IP: c.RealIP(), UserAgent: c.Request().UserAgent(), Detail: map[string]string{"purpose": string(purpose)}})
	return e164, retry, err
}

func resultOf(err error) string {
	if err != nil {
		return "failure"
	}
	return "success"
}

func reasonOf(err error) string {
	var ue *userError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ue):
		return ue.code
	case errors.Is(err, otp.ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, otp.ErrLocked):
		return "locked"
	case errors.Is(err, otp.ErrInvalidCode):
		return "invalid_code"
	case errors.Is(err, phone.ErrInvalid):
		return "invalid_phone"
	}
	return "error"
}

func sendErrorStatus(err error) (int, string) {
	var ue *userError
	switch {
	case errors.As(err, &ue):
		return ue.status, ue.msg
	case errors.Is(err, phone.ErrInvalid):
		return http.StatusBadRequest, phone.UserMessage
	case errors.Is(err, otp.ErrRateLimited):
		return http.StatusTooManyRequests, otp.UserMessage(err)
	}
	return http.StatusServiceUnavailable, otp.UserMessage(err)
}

// completeLogin checks the code, starts a fresh SSO session and returns
// where the browser goes next.
func (s *Server) completeLogin(c echo.Context, raw, code, flowToken string) (string, error) {
	ctx := c.Request().Context()
	ip, ua := c.RealIP(), c.Request().UserAgent()
	fail := func(reason string, subject string, err error) error {
		s.metrics.loginFailures.WithLabelValues(reason).Inc()
		s.audit(ctx, audit.Event{Type: "login.failure", Result: "failure", Reason: reason, SubjectID: subject, IP: ip, UserAgent: ua})
		return err
	}
	e164, err := phone.Normalize(raw)
	if err != nil {
		return "", fail("invalid_phone", "", &userError{status: http.StatusBadRequest, code: "invalid_phone", msg: phone.UserMessage})
	}
	masked := audit.MaskPhone(e164)
	if err := s.OTP.Verify(ctx, e164, otp.PurposeLogin, code); err != nil {
		switch {
		case errors.Is(err, otp.ErrInvalidCode):
			return "", fail("invalid_code", masked, &userError{status: http.StatusUnauthorized, code: "invalid_code", msg: otp.UserMessage(err)})
		case errors.Is(err, otp.ErrLocked):
			var le *otp.LockedError
			errors.As(err, &le)
			h := map[string]string{}
			if le != nil {
				h["Retry-After"] = strconv.Itoa(int(le.Until.Sub(s.Now()).Seconds()) + 1)
			}
			return "", fail("locked", masked, &userError{status: http.StatusTooManyRequests, code: "locked", msg: otp.UserMessage(err), header: h})
		}
		return "", internal(err)
	}
	acc, err := s.Accounts.ByPhone(ctx, e164)
	if errors.Is(err, sqldb.ErrNotFound) {
		return "", fail("no_account", masked, &userError{status: http.StatusUnauthorized, code: "no_account", msg: "该手机号尚未开通账号，请联系本单位资助管理员"})
	}
	if err != nil {
		return "", internal(err)
	}
	switch acc.Status {
	case account.StatusActive:
	case account.StatusPending:
		return "", fail("pending", acc.ID, &userError{status: http.StatusForbidden, code: "account_pending", msg: "账号正在等待管理员审核"})
	default:
		return "", fail("disabled", acc.ID, &userError{status: http.StatusForbidden, code: "account_disabled", msg: "账号已停用，请联系本单位资助管理员"})
	}
	// Accounts that need a second factor get no session yet
	// (totp_handlers.go).
	if next, parked, err := s.secondFactor(c, acc, flowToken); parked {
		return next, err
	}
	return s.startSession(c, acc, []string{amrSMS}, flowToken)
}

// startSession completes a sign-in with the factors in amr: it activates a
// provisioned account, starts a fresh SSO session and returns where the
// browser goes next.
func (s *Server) startSession(c echo.Context, acc *account.Account, amr []string, flowToken string) (string, error) {
	ctx := c.Request().Context()
	ip, ua := c.RealIP(), c.Request().UserAgent()
	if err := s.Accounts.MarkSignedIn(ctx, acc.ID); err != nil {
		return "", internal(err)
	}
	// A new session id at every sign-in: a cookie planted earlier is
	// worthless afterwards.
	if ck, err := c.Cookie(s.Config.CookieName); err == nil {
		if err := s.Sessions.Delete(ctx, session.Hash(ck.Value)); err != nil {
			return "", internal(err)
		}
	}
	token, sess, err := s.Sessions.Create(ctx, acc.ID, amr, ip, ua)
	if err != nil {
		return "", internal(err)
	}
	s.setSessionCookie(c, token, sess.ExpiresAt)
	s.audit(ctx, audit.Event{Type: "login.success", Result: "success", ActorID: acc.ID, SubjectID: acc.ID, OrgID: acc.OrgID, IP: ip, UserAgent: ua,
		Detail: map[string]string{"amr": strings.Join(amr, " ")}})
	if _, err := s.openFlow(flowToken); err == nil {
		return "/oauth2/auth/resume?flow=" + url.QueryEscape(flowToken), nil
	}
	return "/", nil
}

func (s *Server) setSessionCookie(c echo.Context, token string, expires time.Time) {
	c.SetCookie(&http.Cookie{
		Name: s.Config.CookieName, Value: token, Path: "/", Expires: expires,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) clearSessionCookie(c echo.Context) {
	c.SetCookie(&http.Cookie{Name: s.Config.CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// --- JSON API

type sendRequest struct {
	Phone   string `json:"phone"`
	Purpose string `json:"purpose"`
}

func (s *Server) apiSMSSend(c echo.Context) error {
	var req sendRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	purpose := otp.Purpose(req.Purpose)
	if req.Purpose == "" {
		purpose = otp.PurposeLogin
	}
	if purpose != otp.PurposeLogin && purpose != otp.PurposeRegister {
		return &userError{status: http.StatusBadRequest, code: "invalid_purpose", msg: "不支持的验证码用途"}
	}
	_, retry, err := s.sendCode(c, req.Phone, purpose)
	if err != nil {
		status, msg := sendErrorStatus(err)
		ue := &userError{status: status, code: reasonOf(err), msg: msg, cause: err}
		var rl *otp.RateLimitError
		if errors.As(err, &rl) {
			ue.header = map[string]string{"Retry-After": strconv.Itoa(int((rl.RetryAfter + time.Second - 1) / time.Second))}
		}
		return ue
	}
	return c.JSON(http.StatusOK, map[string]int{"retry_after": int((retry + time.Second - 1) / time.Second)})
}

type loginRequest struct {
	Phone string `json:"phone"`
	Code  string `json:"code"`
	Flow  string `json:"flow,omitempty"`
}

func (s *Server) apiLogin(c echo.Context) error {
	var req loginRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	next, err := s.completeLogin(c, req.Phone, req.Code, req.Flow)
	if err != nil {
		return err
	}
	if body, parked := mfaAnswer(c, next); parked {
		return c.JSON(http.StatusOK, body)
	}
	return c.JSON(http.StatusOK, map[string]string{"redirect_to": next})
}

func (s *Server) apiLogout(c echo.Context) error {
	s.endBrowserSession(c)
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) apiSession(c echo.Context) error {
	sso, id := s.currentSession(c)
	if sso == nil {
		return c.JSON(http.StatusOK, map[string]any{"authenticated": false})
	}
	return c.JSON(http.StatusOK, map[string]any{
		"authenticated": true, "name": id.Account.Name, "phone": phone.Mask(id.Account.Phone),
		"auth_time": sso.AuthTime.Unix(), "expires_at": sso.ExpiresAt.Unix(),
	})
}

// endBrowserSession signs the browser out and ends the grants made in its
// session.
func (s *Server) endBrowserSession(c echo.Context) (*session.Session, error) {
	ctx := c.Request().Context()
	defer s.clearSessionCookie(c)
	ck, err := c.Cookie(s.Config.CookieName)
	if err != nil {
		return nil, nil
	}
	sso, err := s.Sessions.Lookup(ctx, ck.Value)
	if err != nil {
		return nil, nil
	}
	if err := s.endSession(ctx, sso.ID, sso.AccountID); err != nil {
		return sso, err
	}
	s.audit(ctx, audit.Event{Type: "logout", Result: "success", ActorID: sso.AccountID, SubjectID: sso.AccountID, IP: c.RealIP(), UserAgent: c.Request().UserAgent()})
	return sso, nil
}

// endSession ends one SSO session: the session row, the grants made in it,
// and (by back-channel logout) the relying parties that received tokens in
// it. The clients are listed before anything is deleted.
func (s *Server) endSession(ctx context.Context, sid, accountID string) error {
	clients, err := s.Provider.Store.ClientsOfSession(ctx, sid)
	if err != nil {
		return err
	}
	if err := s.Sessions.Delete(ctx, sid); err != nil {
		return err
	}
	if err := s.Provider.Store.RevokeSession(ctx, sid); err != nil {
		return err
	}
	if s.Notifier != nil && len(clients) > 0 {
		s.Notifier.Notify(ctx, clients, accountID, sid)
	}
	return nil
}

func bindJSON(c echo.Context, v any) error {
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, maxBody)
	if err := decodeStrict(c.Request().Body, v); err != nil {
		return &userError{status: http.StatusBadRequest, code: "invalid_request", msg: "请求格式错误", cause: err}
	}
	return nil
}
