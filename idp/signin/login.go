package signin

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
	"github.com/xszz/xszz/idp/challenge"
	"github.com/xszz/xszz/idp/idpweb"
	"github.com/xszz/xszz/idp/mfa"
	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/idp/session"
	"github.com/xszz/xszz/internal/phone"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/web"
)

func (s *SignIn) loginPage(c echo.Context) error {
	flowToken := c.QueryParam("flow")
	if _, err := s.Flows.Open(flowToken); err != nil {
		// A page of the IdP (/admin, /account) sent the person here: the
		// way back travels sealed with the rest of the sign-in.
		flowToken, _ = s.Flows.ReturnFlow(c.QueryParam("return"))
	}
	return idpweb.Render(c, http.StatusOK, "login.html", s.loginData(c, flowToken, "", false, "", ""))
}

// loginData fills the login page; the client's name tells the person where
// they are signing in to.
func (s *SignIn) loginData(c echo.Context, flowToken, phoneNumber string, sent bool, errMsg, notice string) map[string]any {
	d := map[string]any{"Title": "登录", "Flow": flowToken, "Phone": phoneNumber, "CodeSent": sent, "Error": errMsg, "Notice": notice}
	if f, err := s.Flows.Open(flowToken); err == nil {
		if q, err := url.ParseQuery(f.Query); err == nil && f.Query != "" {
			if cl, err := s.Clients.Get(c.Request().Context(), q.Get("client_id")); err == nil {
				d["ClientName"] = cl.Name
			}
		}
		if place, ok := returnPlaces[strings.SplitN(strings.TrimPrefix(f.Return, "/"), "/", 2)[0]]; ok {
			d["ReturnName"] = place
		}
	} else {
		d["Flow"] = ""
	}
	return d
}

// returnPlaces names the IdP's own pages a sign-in may return to.
var returnPlaces = map[string]string{"admin": "管理控制台", "account": "账号中心"}

func (s *SignIn) loginSendForm(c echo.Context) error {
	idpweb.LimitBody(c)
	raw, flowToken := c.FormValue("phone"), c.FormValue("flow")
	e164, retry, err := s.SendCode(c, raw, otp.PurposeLogin)
	if err != nil {
		// Asking again too soon refuses the new code, not the one already
		// sent: the code field stays and the button counts down.
		if wait, ok := idpweb.ResendWait(err, c.FormValue("sent") != ""); ok {
			d := s.loginData(c, flowToken, raw, true, "", "验证码已发送，请查收短信；"+idpweb.WaitText(wait)+"后可重新获取。")
			d["Wait"], d["Script"] = wait, "countdown.js"
			return idpweb.Render(c, http.StatusOK, "login.html", d)
		}
		status, msg := idpweb.SendErrorStatus(err)
		d := s.loginData(c, flowToken, raw, false, msg, "")
		d["Challenge"] = idpweb.ChallengeView(err)
		return idpweb.Render(c, status, "login.html", d)
	}
	// The number goes back into the forms as typed: the code form posts it
	// again. Only the notice shows it masked.
	minutes := max(1, int(s.OTP.CodeTTL()/time.Minute))
	notice := "验证码已发送至 " + phone.Mask(e164) + "，" + strconv.Itoa(minutes) + " 分钟内有效。"
	d := s.loginData(c, flowToken, raw, true, "", notice)
	if wait := idpweb.Seconds(retry); wait > 0 {
		d["Wait"], d["Script"] = wait, "countdown.js"
	}
	return idpweb.Render(c, http.StatusOK, "login.html", d)
}

func (s *SignIn) loginVerifyForm(c echo.Context) error {
	idpweb.LimitBody(c)
	raw, code, flowToken := c.FormValue("phone"), c.FormValue("code"), c.FormValue("flow")
	next, err := s.completeLogin(c, raw, code, flowToken)
	if err != nil {
		var ue *web.Error
		if !errors.As(err, &ue) || ue.Status >= 500 {
			return err
		}
		return idpweb.Render(c, ue.Status, "login.html", s.loginData(c, flowToken, raw, true, ue.Message, ""))
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// SendCode checks the number and asks for a code; the answer does not
// depend on whether the number has an account (the SMS gate decides that
// out of sight).
func (s *SignIn) SendCode(c echo.Context, raw string, purpose otp.Purpose) (string, time.Duration, error) {
	ctx := c.Request().Context()
	e164, err := phone.Normalize(raw)
	if err != nil {
		s.Metrics.SMSSent.WithLabelValues(string(purpose), "invalid_phone").Inc()
		return "", 0, err
	}
	// A phone change is made by someone signed in, who is not the storm
	// the challenge is for.
	if s.Challenge != nil && purpose != otp.PurposeChangePhone {
		if err := s.Challenge.Check(c); err != nil {
			var req *challenge.Required
			var ue *web.Error
			switch {
			case errors.As(err, &req):
				s.Metrics.SMSSent.WithLabelValues(string(purpose), req.Code()).Inc()
				return "", 0, err
			case errors.As(err, &ue):
				return "", 0, err
			}
			s.Metrics.SMSSent.WithLabelValues(string(purpose), "challenge_failed").Inc()
			return "", 0, &web.Error{Status: http.StatusBadRequest, Code: "challenge_failed", Message: "请先完成人机验证", Cause: err}
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
	s.Metrics.SMSSent.WithLabelValues(string(purpose), result).Inc()
	s.Events.Record(ctx, audit.Event{Type: "sms.sent", Result: idpweb.Result(err), Reason: idpweb.Reason(err), SubjectID: audit.MaskPhone(e164),
		IP: c.RealIP(), UserAgent: c.Request().UserAgent(), Detail: map[string]string{"purpose": string(purpose)}})
	return e164, retry, err
}

// completeLogin checks the code, starts a fresh SSO session and returns
// where the browser goes next.
func (s *SignIn) completeLogin(c echo.Context, raw, code, flowToken string) (string, error) {
	ctx := c.Request().Context()
	ip, ua := c.RealIP(), c.Request().UserAgent()
	fail := func(reason string, subject string, err error) error {
		s.Metrics.LoginFailures.WithLabelValues(reason).Inc()
		s.Events.Record(ctx, audit.Event{Type: "login.failure", Result: "failure", Reason: reason, SubjectID: subject, IP: ip, UserAgent: ua})
		return err
	}
	e164, err := phone.Normalize(raw)
	if err != nil {
		return "", fail("invalid_phone", "", &web.Error{Status: http.StatusBadRequest, Code: "invalid_phone", Message: phone.UserMessage})
	}
	masked := audit.MaskPhone(e164)
	if err := s.OTP.Verify(ctx, e164, otp.PurposeLogin, code, ip); err != nil {
		if ue := idpweb.CodeError(err); ue != nil {
			return "", fail(ue.Code, masked, ue)
		}
		return "", web.Internal(err)
	}
	acc, err := s.Accounts.ByPhone(ctx, e164)
	if errors.Is(err, sqldb.ErrNotFound) {
		return "", fail("no_account", masked, &web.Error{Status: http.StatusUnauthorized, Code: "no_account", Message: "该手机号尚未开通账号，请联系本单位资助管理员"})
	}
	if err != nil {
		return "", web.Internal(err)
	}
	switch acc.Status {
	case account.StatusActive:
	case account.StatusPending:
		return "", fail("pending", acc.ID, &web.Error{Status: http.StatusForbidden, Code: "account_pending", Message: "账号正在等待管理员审核"})
	default:
		return "", fail("disabled", acc.ID, &web.Error{Status: http.StatusForbidden, Code: "account_disabled", Message: "账号已停用，请联系本单位资助管理员"})
	}
	// Accounts that need a second factor get no session yet
	// (secondfactor.go).
	if next, parked, err := s.secondFactor(c, acc, flowToken); parked {
		return next, err
	}
	return s.startSession(c, acc, []string{mfa.AMRSMS}, flowToken)
}

// startSession completes a sign-in with the factors in amr: it activates a
// provisioned account, starts a fresh SSO session and returns where the
// browser goes next.
func (s *SignIn) startSession(c echo.Context, acc *account.Account, amr []string, flowToken string) (string, error) {
	ctx := c.Request().Context()
	ip, ua := c.RealIP(), c.Request().UserAgent()
	if err := s.Accounts.MarkSignedIn(ctx, acc.ID); err != nil {
		return "", web.Internal(err)
	}
	// A new session id at every sign-in: a cookie planted earlier is
	// worthless afterwards.
	if old := s.cookie.Value(c); old != "" {
		if err := s.Sessions.Delete(ctx, session.Hash(old)); err != nil {
			return "", web.Internal(err)
		}
	}
	token, sess, err := s.Sessions.Create(ctx, acc.ID, amr, ip, ua)
	if err != nil {
		return "", web.Internal(err)
	}
	s.cookie.Set(c, token, sess.ExpiresAt)
	s.Events.Record(ctx, audit.Event{Type: "login.success", Result: "success", ActorID: acc.ID, SubjectID: acc.ID, OrgID: acc.OrgID, IP: ip, UserAgent: ua,
		Detail: map[string]string{"amr": strings.Join(amr, " ")}})
	return s.afterSignIn(flowToken), nil
}

// afterSignIn is where a completed sign-in goes: back to the parked
// authorization request, to the IdP page the person came from, or home.
func (s *SignIn) afterSignIn(flowToken string) string {
	f, err := s.Flows.Open(flowToken)
	switch {
	case err != nil:
		return "/"
	case f.Query != "":
		return "/oauth2/auth/resume?flow=" + url.QueryEscape(flowToken)
	}
	if p, ok := idpweb.SafeReturn(f.Return); ok {
		return p
	}
	return "/"
}

// --- JSON API

type sendRequest struct {
	Phone   string `json:"phone"`
	Purpose string `json:"purpose"`
	// The answer to the graphical challenge, when one was asked.
	ChallengeID     string `json:"challenge_id,omitempty"`
	ChallengeAnswer string `json:"challenge_answer,omitempty"`
}

func (s *SignIn) apiSMSSend(c echo.Context) error {
	var req sendRequest
	if err := idpweb.BindJSON(c, &req); err != nil {
		return err
	}
	purpose := otp.Purpose(req.Purpose)
	if req.Purpose == "" {
		purpose = otp.PurposeLogin
	}
	if purpose != otp.PurposeLogin && purpose != otp.PurposeRegister {
		return &web.Error{Status: http.StatusBadRequest, Code: "invalid_purpose", Message: "不支持的验证码用途"}
	}
	challenge.SetAnswer(c, req.ChallengeID, req.ChallengeAnswer)
	_, retry, err := s.SendCode(c, req.Phone, purpose)
	var cr *challenge.Required
	if errors.As(err, &cr) {
		return c.JSON(http.StatusBadRequest, map[string]string{
			"error": cr.Code(), "error_description": cr.Message(), "challenge_id": cr.ID, "image": cr.Image,
		})
	}
	if err != nil {
		status, msg := idpweb.SendErrorStatus(err)
		ue := &web.Error{Status: status, Code: idpweb.Reason(err), Message: msg, Cause: err}
		var rl *otp.RateLimitError
		var we *web.Error
		switch {
		case errors.As(err, &rl):
			ue.Header = map[string]string{"Retry-After": strconv.Itoa(int((rl.RetryAfter + time.Second - 1) / time.Second))}
		case errors.As(err, &we):
			ue.Header = we.Header // the challenge's image budget says when
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

func (s *SignIn) apiLogin(c echo.Context) error {
	var req loginRequest
	if err := idpweb.BindJSON(c, &req); err != nil {
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

func (s *SignIn) apiLogout(c echo.Context) error {
	s.SignOut(c)
	return c.NoContent(http.StatusNoContent)
}

func (s *SignIn) apiSession(c echo.Context) error {
	sso, id := s.Browser.Current(c)
	if sso == nil {
		return c.JSON(http.StatusOK, map[string]any{"authenticated": false})
	}
	return c.JSON(http.StatusOK, map[string]any{
		"authenticated": true, "name": id.Account.Name, "phone": phone.Mask(id.Account.Phone),
		"auth_time": sso.AuthTime.Unix(), "expires_at": sso.ExpiresAt.Unix(),
	})
}

// SignOut signs the browser out and ends the grants made in its
// session.
func (s *SignIn) SignOut(c echo.Context) (*session.Session, error) {
	ctx := c.Request().Context()
	defer s.cookie.Clear(c)
	token := s.cookie.Value(c)
	if token == "" {
		return nil, nil
	}
	sso, err := s.Sessions.Lookup(ctx, token)
	if err != nil {
		return nil, nil
	}
	if err := s.EndSession(ctx, sso.ID, sso.AccountID); err != nil {
		return sso, err
	}
	s.Events.Record(ctx, audit.Event{Type: "logout", Result: "success", ActorID: sso.AccountID, SubjectID: sso.AccountID, IP: c.RealIP(), UserAgent: c.Request().UserAgent()})
	return sso, nil
}

// EndSession ends one SSO session: the session row, the grants made in it,
// and (by back-channel logout) the relying parties that received tokens in
// it. The clients are listed before anything is deleted.
func (s *SignIn) EndSession(ctx context.Context, sid, accountID string) error {
	clients, err := s.Grants.ClientsOfSession(ctx, sid)
	if err != nil {
		return err
	}
	if err := s.Sessions.Delete(ctx, sid); err != nil {
		return err
	}
	if err := s.Grants.RevokeSession(ctx, sid); err != nil {
		return err
	}
	if s.Notifier != nil && len(clients) > 0 {
		s.Notifier.Notify(ctx, clients, accountID, sid)
	}
	return nil
}
