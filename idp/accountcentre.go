package idp

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/idp/session"
	"github.com/xszz/xszz/idp/totp"
	"github.com/xszz/xszz/internal/phone"
	"github.com/xszz/xszz/internal/sms"
)

// The account centre (/account): what a person can see and do about their
// own account. Every change is a POST carrying a CSRF token bound to the
// session, behind the same-origin check, and answered with 303.

// signOuter ends every session and refresh token of an account and tells
// the relying parties; admin.Service implements it.
type signOuter interface {
	SignOutEverywhere(ctx context.Context, accountID string) error
}

// storeSignOut is the fallback when no admin service is wired.
type storeSignOut struct{ s *Server }

func (f storeSignOut) SignOutEverywhere(ctx context.Context, accountID string) error {
	if _, err := f.s.Sessions.DeleteByAccount(ctx, accountID); err != nil {
		return err
	}
	return f.s.Provider.Store.RevokeSubject(ctx, accountID)
}

func (s *Server) signOuter() signOuter {
	if s.Admin != nil {
		return s.Admin
	}
	return storeSignOut{s}
}

var chinaTZ = time.FixedZone("CST", 8*3600)

// centre is the signed-in person at the account centre.
type centre struct {
	sso  *session.Session
	id   *Identity
	csrf string
}

func (s *Server) csrfToken(sso *session.Session) string {
	m := hmac.New(sha256.New, s.Config.FlowKey)
	m.Write([]byte("xszz-csrf:" + sso.ID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// signedIn returns the person, or sends the browser to sign in: no
// session, or a session weaker than the account's policy.
func (s *Server) signedIn(c echo.Context) (*centre, error) {
	sso, id := s.currentSession(c)
	if sso == nil || !s.factorsSatisfy(c.Request().Context(), sso, id, nil) {
		return nil, c.Redirect(http.StatusSeeOther, "/login")
	}
	return &centre{sso: sso, id: id, csrf: s.csrfToken(sso)}, nil
}

var errCSRF = &userError{status: http.StatusForbidden, code: "csrf", msg: "页面已过期，请刷新后重试"}

// changing is signedIn for POSTs: the form's CSRF token must match.
func (s *Server) changing(c echo.Context) (*centre, error) {
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, maxBody)
	sso, id := s.currentSession(c)
	if sso == nil || !s.factorsSatisfy(c.Request().Context(), sso, id, nil) {
		return nil, &userError{status: http.StatusUnauthorized, code: "login_required", msg: "登录已过期，请重新登录"}
	}
	want := s.csrfToken(sso)
	if !hmac.Equal([]byte(c.FormValue("csrf")), []byte(want)) {
		return nil, errCSRF
	}
	return &centre{sso: sso, id: id, csrf: want}, nil
}

func (s *Server) centreEvent(c echo.Context, ac *centre, typ string, detail map[string]string) audit.Event {
	a := ac.id.Account
	return audit.Event{Type: typ, Result: audit.Success, ActorID: a.ID, SubjectID: a.ID, OrgID: a.OrgID,
		IP: c.RealIP(), UserAgent: c.Request().UserAgent(), Detail: detail}
}

// notices are the fixed messages ?done= may select; nothing from the URL
// is shown as text.
var notices = map[string]string{
	"session":  "已退出该设备。",
	"consent":  "已撤销该应用的授权，其令牌已失效。",
	"recovery": "已生成新的恢复码，旧恢复码已作废。",
}

type sessionRow struct {
	ID, Device, IP, Created, LastSeen string
	Current, TwoFactor                bool
}

type consentRow struct {
	ClientID, Name, Scopes, Created string
}

func roleText(r string) string {
	if r == account.RoleAdmin {
		return "管理员"
	}
	return "工作人员"
}

func (s *Server) centreData(c echo.Context, ac *centre) (map[string]any, error) {
	ctx := c.Request().Context()
	a := ac.id.Account
	d := map[string]any{
		"Title": "账号中心", "CSRF": ac.csrf, "Name": a.Name, "Role": roleText(a.Role), "Phone": phone.Mask(a.Phone),
		"OrgID": a.OrgID, "Notice": notices[c.QueryParam("done")],
	}
	if a.OrgID != "" && s.Registration != nil {
		if o, err := s.Registration.Orgs.Get(ctx, a.OrgID); err == nil {
			d["OrgName"] = o.Name
		}
	}
	if s.Registration != nil {
		if p, err := s.Registration.Profiles.Get(ctx, a.ID); err == nil {
			d["Position"], d["IDNumber"] = p.Position, p.MaskedID
		}
	}
	if s.TOTP != nil {
		enrolled, err := s.TOTP.Enrolled(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		d["TOTPAvailable"], d["TOTPEnrolled"] = true, enrolled
		need, _, _ := s.mfaNeeded(ctx, a, "")
		d["TOTPRequired"] = need
		if enrolled {
			if d["RecoveryLeft"], err = s.TOTP.RecoveryCodesLeft(ctx, a.ID); err != nil {
				return nil, err
			}
		}
	}
	sessions, err := s.Sessions.ListByAccount(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	var rows []sessionRow
	for _, ss := range sessions {
		rows = append(rows, sessionRow{
			ID: ss.ID, Device: deviceOf(ss.UserAgent), IP: ss.IP,
			Created: ss.CreatedAt.In(chinaTZ).Format("2006-01-02 15:04"), LastSeen: ss.LastSeen.In(chinaTZ).Format("2006-01-02 15:04"),
			Current: ss.ID == ac.sso.ID, TwoFactor: slices.Contains(ss.AMR, amrOTP),
		})
	}
	d["Sessions"] = rows
	consents, err := s.Provider.Store.Consents(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	var crow []consentRow
	for _, ce := range consents {
		name := ce.ClientID
		if cl, err := s.Clients.Get(ctx, ce.ClientID); err == nil {
			name = cl.Name
		}
		crow = append(crow, consentRow{ClientID: ce.ClientID, Name: name, Scopes: strings.Join(ce.Scopes, " "), Created: ce.CreatedAt.In(chinaTZ).Format("2006-01-02")})
	}
	d["Consents"] = crow
	return d, nil
}

func (s *Server) renderCentre(c echo.Context, ac *centre, status int, extra map[string]any) error {
	d, err := s.centreData(c, ac)
	if err != nil {
		return internal(err)
	}
	for k, v := range extra {
		d[k] = v
	}
	return s.render(c, status, "account.html", d)
}

func (s *Server) accountPage(c echo.Context) error {
	ac, err := s.signedIn(c)
	if ac == nil {
		return err
	}
	return s.renderCentre(c, ac, http.StatusOK, nil)
}

// deviceOf names the browser and system of a user agent, roughly: enough
// for a person to recognise their own devices.
func deviceOf(ua string) string {
	if ua == "" {
		return "未知设备"
	}
	var browser, system string
	switch {
	case strings.Contains(ua, "MicroMessenger"):
		browser = "微信"
	case strings.Contains(ua, "Edg/"):
		browser = "Edge"
	case strings.Contains(ua, "Firefox/"):
		browser = "Firefox"
	case strings.Contains(ua, "Chrome/"):
		browser = "Chrome"
	case strings.Contains(ua, "Safari/"):
		browser = "Safari"
	case strings.HasPrefix(ua, "Go-http-client"):
		browser = "程序客户端"
	default:
		browser = "浏览器"
	}
	switch {
	case strings.Contains(ua, "iPhone"), strings.Contains(ua, "iPad"):
		system = "iOS"
	case strings.Contains(ua, "Android"):
		system = "Android"
	case strings.Contains(ua, "HarmonyOS"):
		system = "鸿蒙"
	case strings.Contains(ua, "Windows"):
		system = "Windows"
	case strings.Contains(ua, "Mac OS X"):
		system = "macOS"
	case strings.Contains(ua, "Linux"):
		system = "Linux"
	}
	if system == "" {
		return browser
	}
	return browser + " · " + system
}

// --- sessions

func (s *Server) accountEndSession(c echo.Context) error {
	ac, err := s.changing(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	sid := c.FormValue("id")
	target, err := s.Sessions.Get(ctx, sid)
	if errors.Is(err, session.ErrNoSession) || (err == nil && target.AccountID != ac.id.Account.ID) {
		return c.Redirect(http.StatusSeeOther, "/account?done=session")
	}
	if err != nil {
		return internal(err)
	}
	if err := s.endSession(ctx, sid, ac.id.Account.ID); err != nil {
		return internal(err)
	}
	s.audit(ctx, s.centreEvent(c, ac, "session.ended", map[string]string{"own": boolText(sid == ac.sso.ID)}))
	if sid == ac.sso.ID {
		s.clearSessionCookie(c)
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	return c.Redirect(http.StatusSeeOther, "/account?done=session")
}

func (s *Server) accountEndAll(c echo.Context) error {
	ac, err := s.changing(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.signOuter().SignOutEverywhere(ctx, ac.id.Account.ID); err != nil {
		return internal(err)
	}
	s.audit(ctx, s.centreEvent(c, ac, "session.signed_out_everywhere", nil))
	s.clearSessionCookie(c)
	return c.Redirect(http.StatusSeeOther, "/login")
}

// --- consents

func (s *Server) accountRevokeConsent(c echo.Context) error {
	ac, err := s.changing(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	clientID := c.FormValue("client_id")
	if clientID == "" || len(clientID) > 200 {
		return c.Redirect(http.StatusSeeOther, "/account")
	}
	if err := s.Provider.Store.RevokeConsent(ctx, ac.id.Account.ID, clientID); err != nil {
		return internal(err)
	}
	if s.Notifier != nil {
		s.Notifier.Notify(ctx, []string{clientID}, ac.id.Account.ID, "")
	}
	s.audit(ctx, s.centreEvent(c, ac, "consent.revoked", map[string]string{"client_id": clientID}))
	return c.Redirect(http.StatusSeeOther, "/account?done=consent")
}

// --- second factor

// totpChangeAllowed: replacing a second factor or its recovery codes
// needs a session that passed it; the first enrolment needs none.
func (s *Server) totpChangeAllowed(ctx context.Context, ac *centre) (enrolled bool, err error) {
	if s.TOTP == nil {
		return false, &userError{status: http.StatusNotFound, code: "not_found", msg: "本系统未启用动态口令"}
	}
	enrolled, err = s.TOTP.Enrolled(ctx, ac.id.Account.ID)
	if err != nil {
		return false, internal(err)
	}
	if enrolled && !slices.Contains(ac.sso.AMR, amrOTP) {
		return true, &userError{status: http.StatusForbidden, code: "mfa_required", msg: "请使用动态口令重新登录后再操作"}
	}
	return enrolled, nil
}

func (s *Server) accountTOTPPage(c echo.Context) error {
	ac, err := s.signedIn(c)
	if ac == nil {
		return err
	}
	enrolled, err := s.totpChangeAllowed(c.Request().Context(), ac)
	if err != nil {
		return err
	}
	e, err := s.TOTP.Begin(ac.id.Account.ID, phone.Mask(ac.id.Account.Phone))
	if err != nil {
		return internal(err)
	}
	title := "绑定动态口令"
	if enrolled {
		title = "重新绑定动态口令"
	}
	d, err := s.enrolData(e, "/account/totp", title)
	if err != nil {
		return internal(err)
	}
	d["CSRF"] = ac.csrf
	return s.render(c, http.StatusOK, "totp_enrol.html", d)
}

func (s *Server) accountTOTPSubmit(c echo.Context) error {
	ac, err := s.changing(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	enrolled, err := s.totpChangeAllowed(ctx, ac)
	if err != nil {
		return err
	}
	confirm, event := s.TOTP.Confirm, "totp.enrolled"
	if enrolled {
		confirm, event = s.TOTP.Reset, "totp.reset"
	}
	codes, err := confirm(ctx, ac.id.Account.ID, c.FormValue("token"), c.FormValue("code"))
	switch {
	case err == nil:
	case errors.Is(err, totp.ErrInvalidCode), errors.Is(err, totp.ErrEnrolmentExpired), errors.Is(err, totp.ErrAlreadyEnrolled):
		return s.renderCentre(c, ac, http.StatusBadRequest, map[string]any{"Error": "动态口令错误或绑定已过期，请重新绑定"})
	default:
		return internal(err)
	}
	s.audit(ctx, s.centreEvent(c, ac, event, nil))
	return s.render(c, http.StatusOK, "totp_recovery.html", map[string]any{"Title": "恢复码", "Codes": codes, "Next": "/account"})
}

func (s *Server) accountRecoveryCodes(c echo.Context) error {
	ac, err := s.changing(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	enrolled, err := s.totpChangeAllowed(ctx, ac)
	if err != nil {
		return err
	}
	if !enrolled {
		return c.Redirect(http.StatusSeeOther, "/account")
	}
	codes, err := s.TOTP.NewRecoveryCodes(ctx, ac.id.Account.ID)
	if err != nil {
		return internal(err)
	}
	s.audit(ctx, s.centreEvent(c, ac, "totp.recovery_codes_replaced", nil))
	return s.render(c, http.StatusOK, "totp_recovery.html", map[string]any{"Title": "恢复码", "Codes": codes, "Next": "/account?done=recovery"})
}

// --- phone change (SECURITY.md #49): codes to the old and the new number

func (s *Server) accountPhoneSend(c echo.Context) error {
	ac, err := s.changing(c)
	if err != nil {
		return err
	}
	raw := c.FormValue("phone")
	e164, err := phone.Normalize(raw)
	if err != nil {
		return s.renderCentre(c, ac, http.StatusBadRequest, map[string]any{"PhoneError": phone.UserMessage})
	}
	if e164 == ac.id.Account.Phone {
		return s.renderCentre(c, ac, http.StatusBadRequest, map[string]any{"PhoneError": "新手机号与当前手机号相同"})
	}
	// Whether the new number is taken is told only after both codes were
	// entered, i.e. to someone who holds that number.
	for _, ph := range []string{ac.id.Account.Phone, e164} {
		if _, _, err := s.sendCode(c, ph, otp.PurposeChangePhone); err != nil {
			status, msg := sendErrorStatus(err)
			return s.renderCentre(c, ac, status, map[string]any{"PhoneError": msg})
		}
	}
	return s.renderCentre(c, ac, http.StatusOK, map[string]any{"NewPhone": e164, "NewPhoneMasked": phone.Mask(e164)})
}

func (s *Server) accountPhoneChange(c echo.Context) error {
	ac, err := s.changing(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	a := ac.id.Account
	e164, err := phone.Normalize(c.FormValue("phone"))
	if err != nil {
		return s.renderCentre(c, ac, http.StatusBadRequest, map[string]any{"PhoneError": phone.UserMessage})
	}
	again := map[string]any{"NewPhone": e164, "NewPhoneMasked": phone.Mask(e164)}
	// Both codes are checked, whatever the first gives, so each wrong code
	// costs its own attempt.
	errOld := s.OTP.Verify(ctx, a.Phone, otp.PurposeChangePhone, c.FormValue("old_code"))
	errNew := s.OTP.Verify(ctx, e164, otp.PurposeChangePhone, c.FormValue("new_code"))
	if err := errors.Join(errOld, errNew); err != nil {
		ev := s.centreEvent(c, ac, "account.phone_change", map[string]string{"old_code": resultOf(errOld), "new_code": resultOf(errNew)})
		ev.Result, ev.Reason = audit.Failure, reasonOf(err)
		s.audit(ctx, ev)
		if !errors.Is(err, otp.ErrInvalidCode) && !errors.Is(err, otp.ErrLocked) {
			return internal(err)
		}
		again["PhoneError"] = "验证码错误或已失效：须同时输入原手机号和新手机号收到的验证码"
		if errors.Is(err, otp.ErrLocked) {
			again["PhoneError"] = otp.UserMessage(err)
		}
		return s.renderCentre(c, ac, http.StatusUnauthorized, again)
	}
	old := a.Phone
	_, err = s.Accounts.Update(ctx, a.ID, func(acc *account.Account) error {
		acc.Phone = e164
		return nil
	})
	if errors.Is(err, account.ErrPhoneTaken) {
		ev := s.centreEvent(c, ac, "account.phone_change", nil)
		ev.Result, ev.Reason = audit.Failure, "phone_taken"
		s.audit(ctx, ev)
		return s.renderCentre(c, ac, http.StatusConflict, map[string]any{"PhoneError": "该手机号已被其他账号使用，无法更换；如有疑问请联系本单位资助管理员"})
	}
	if err != nil {
		return internal(err)
	}
	// Every session and token was issued to the old number's holder.
	if err := s.signOuter().SignOutEverywhere(ctx, a.ID); err != nil {
		return internal(err)
	}
	s.audit(ctx, s.centreEvent(c, ac, "account.phone_changed", map[string]string{"old": audit.MaskPhone(old), "new": audit.MaskPhone(e164)}))
	s.notifyOldPhone(ctx, old)
	s.clearSessionCookie(c)
	return c.Redirect(http.StatusSeeOther, "/login")
}

// notifyOldPhone tells the previous number that the account left it
// (SECURITY.md #49): if someone else made the change, the holder hears of
// it. The template carries no variables, so the new number is not sent to
// the old one. A gateway failure does not undo the change; it is logged.
func (s *Server) notifyOldPhone(ctx context.Context, old string) {
	if s.SMS == nil {
		return
	}
	if err := s.SMS.Send(ctx, sms.Message{Phone: old, Purpose: sms.NoticePhoneChanged, SentAt: s.Now()}); err != nil {
		s.Log.WarnContext(ctx, "account centre: phone change notice not sent", slog.String("phone", phone.Mask(old)), slog.Any("err", err))
	}
}
