package accountcentre

import (
	"context"
	"crypto/hmac"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/identity"
	"github.com/xszz/xszz/idp/idpweb"
	"github.com/xszz/xszz/idp/mfa"
	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/idp/session"
	"github.com/xszz/xszz/idp/totp"
	"github.com/xszz/xszz/internal/phone"
	"github.com/xszz/xszz/internal/sms"
	"github.com/xszz/xszz/internal/web"
)

var chinaTZ = time.FixedZone("CST", 8*3600)

// centre is the signed-in person at the account centre.
type centre struct {
	sso  *session.Session
	id   *identity.Identity
	csrf string
}

func (s *Centre) csrfToken(sso *session.Session) string {
	return s.Flows.Sum("xszz-csrf:", sso.ID)
}

// signedIn returns the person, or sends the browser to sign in: no
// session, or a session weaker than the account's policy.
func (s *Centre) signedIn(c echo.Context) (*centre, error) {
	sso, id := s.Browser.Current(c)
	if sso == nil || !s.factorsSatisfy(c.Request().Context(), sso, id) {
		return nil, c.Redirect(http.StatusSeeOther, idpweb.LoginPath(c.Request().URL.RequestURI()))
	}
	return &centre{sso: sso, id: id, csrf: s.csrfToken(sso)}, nil
}

var errCSRF = &web.Error{Status: http.StatusForbidden, Code: "csrf", Message: "页面已过期，请刷新后重试"}

// changing is signedIn for POSTs: the form's CSRF token must match.
func (s *Centre) changing(c echo.Context) (*centre, error) {
	idpweb.LimitBody(c)
	sso, id := s.Browser.Current(c)
	if sso == nil || !s.factorsSatisfy(c.Request().Context(), sso, id) {
		return nil, &web.Error{Status: http.StatusUnauthorized, Code: "login_required", Message: "登录已过期，请重新登录"}
	}
	want := s.csrfToken(sso)
	if !hmac.Equal([]byte(c.FormValue("csrf")), []byte(want)) {
		return nil, errCSRF
	}
	return &centre{sso: sso, id: id, csrf: want}, nil
}

func (s *Centre) centreEvent(c echo.Context, ac *centre, typ string, detail map[string]string) audit.Event {
	a := ac.id.Account
	return audit.Event{Type: typ, Result: audit.Success, ActorID: a.ID, SubjectID: a.ID, OrgID: a.OrgID,
		IP: c.RealIP(), UserAgent: c.Request().UserAgent(), Detail: detail}
}

// notices are the fixed messages ?done= may select; nothing from the URL
// is shown as text.
var notices = map[string]string{
	"session":  "已退出该设备。",
	"consent":  "已取消该应用的授权，其令牌已失效。",
	"recovery": "已生成新的恢复码，旧恢复码已作废。",
}

type sessionRow struct {
	ID, Device, IP, Created, LastSeen string
	Current, TwoFactor                bool
}

// consentRow is an authorised application; Permissions say in plain words
// what it gets.
type consentRow struct {
	ClientID, Name, Created string
	Permissions             []string
}

func roleText(r string) string {
	if r == account.RoleAdmin {
		return "管理员"
	}
	return "工作人员"
}

func (s *Centre) centreData(c echo.Context, ac *centre) (map[string]any, error) {
	ctx := c.Request().Context()
	a := ac.id.Account
	d := map[string]any{
		"Title": "账号中心", "CSRF": ac.csrf, "Name": a.Name, "Role": roleText(a.Role), "Phone": phone.Mask(a.Phone),
		"OrgID": a.OrgID, "Notice": notices[c.QueryParam("done")],
	}
	if a.OrgID != "" && s.Orgs != nil {
		if o, err := s.Orgs.Get(ctx, a.OrgID); err == nil {
			d["OrgName"] = o.Name
		}
	}
	if s.Profiles != nil {
		if p, err := s.Profiles.Get(ctx, a.ID); err == nil {
			d["Position"], d["IDNumber"] = p.Position, p.MaskedID
		}
	}
	if s.TOTP != nil {
		enrolled, err := s.TOTP.Enrolled(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		d["TOTPAvailable"], d["TOTPEnrolled"] = true, enrolled
		need, _, _ := s.MFA.Needed(ctx, a, "")
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
			Current: ss.ID == ac.sso.ID, TwoFactor: slices.Contains(ss.AMR, mfa.AMROTP),
		})
	}
	d["Sessions"] = rows
	consents, err := s.Consents.Consents(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	var crow []consentRow
	for _, ce := range consents {
		name := ce.ClientID
		if cl, err := s.Clients.Get(ctx, ce.ClientID); err == nil {
			name = cl.Name
		}
		crow = append(crow, consentRow{ClientID: ce.ClientID, Name: name, Permissions: idpweb.ScopeSentences(ce.Scopes), Created: ce.CreatedAt.In(chinaTZ).Format("2006-01-02")})
	}
	d["Consents"] = crow
	return d, nil
}

func (s *Centre) renderCentre(c echo.Context, ac *centre, status int, extra map[string]any) error {
	d, err := s.centreData(c, ac)
	if err != nil {
		return web.Internal(err)
	}
	for k, v := range extra {
		d[k] = v
	}
	return idpweb.Render(c, status, "account.html", d)
}

func (s *Centre) accountPage(c echo.Context) error {
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

func (s *Centre) accountEndSession(c echo.Context) error {
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
		return web.Internal(err)
	}
	if err := s.Ender.EndSession(ctx, sid, ac.id.Account.ID); err != nil {
		return web.Internal(err)
	}
	s.Events.Record(ctx, s.centreEvent(c, ac, "session.ended", map[string]string{"own": idpweb.BoolText(sid == ac.sso.ID)}))
	if sid == ac.sso.ID {
		s.Cookie.Clear(c)
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	return c.Redirect(http.StatusSeeOther, "/account?done=session")
}

func (s *Centre) accountEndAll(c echo.Context) error {
	ac, err := s.changing(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.SignOuter.SignOutEverywhere(ctx, ac.id.Account.ID); err != nil {
		return web.Internal(err)
	}
	s.Events.Record(ctx, s.centreEvent(c, ac, "session.signed_out_everywhere", nil))
	s.Cookie.Clear(c)
	return c.Redirect(http.StatusSeeOther, "/login")
}

// --- consents

func (s *Centre) accountRevokeConsent(c echo.Context) error {
	ac, err := s.changing(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	clientID := c.FormValue("client_id")
	if clientID == "" || len(clientID) > 200 {
		return c.Redirect(http.StatusSeeOther, "/account")
	}
	if err := s.Consents.RevokeConsent(ctx, ac.id.Account.ID, clientID); err != nil {
		return web.Internal(err)
	}
	if s.Notifier != nil {
		s.Notifier.Notify(ctx, []string{clientID}, ac.id.Account.ID, "")
	}
	s.Events.Record(ctx, s.centreEvent(c, ac, "consent.revoked", map[string]string{"client_id": clientID}))
	return c.Redirect(http.StatusSeeOther, "/account?done=consent")
}

// --- second factor

// totpChangeAllowed: replacing a second factor or its recovery codes
// needs a session that passed it; the first enrolment needs none.
func (s *Centre) totpChangeAllowed(ctx context.Context, ac *centre) (enrolled bool, err error) {
	if s.TOTP == nil {
		return false, &web.Error{Status: http.StatusNotFound, Code: "not_found", Message: "本系统未启用动态口令"}
	}
	enrolled, err = s.TOTP.Enrolled(ctx, ac.id.Account.ID)
	if err != nil {
		return false, web.Internal(err)
	}
	if enrolled && !slices.Contains(ac.sso.AMR, mfa.AMROTP) {
		return true, &web.Error{Status: http.StatusForbidden, Code: "mfa_required", Message: "请使用动态口令重新登录后再操作"}
	}
	return enrolled, nil
}

func (s *Centre) accountTOTPPage(c echo.Context) error {
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
		return web.Internal(err)
	}
	title := "绑定身份验证器"
	if enrolled {
		title = "重新绑定身份验证器"
	}
	d, err := idpweb.EnrolData(e, "/account/totp", title)
	if err != nil {
		return web.Internal(err)
	}
	d["CSRF"] = ac.csrf
	return idpweb.Render(c, http.StatusOK, "totp_enrol.html", d)
}

func (s *Centre) accountTOTPSubmit(c echo.Context) error {
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
		return web.Internal(err)
	}
	s.Events.Record(ctx, s.centreEvent(c, ac, event, nil))
	return idpweb.Render(c, http.StatusOK, "totp_recovery.html", map[string]any{"Title": "恢复码", "Codes": codes, "Next": "/account"})
}

func (s *Centre) accountRecoveryCodes(c echo.Context) error {
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
		return web.Internal(err)
	}
	s.Events.Record(ctx, s.centreEvent(c, ac, "totp.recovery_codes_replaced", nil))
	return idpweb.Render(c, http.StatusOK, "totp_recovery.html", map[string]any{"Title": "恢复码", "Codes": codes, "Next": "/account?done=recovery"})
}

// --- phone change (SECURITY.md #49): codes to the old and the new number

func (s *Centre) accountPhoneSend(c echo.Context) error {
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
		if _, _, err := s.Codes.SendCode(c, ph, otp.PurposeChangePhone); err != nil {
			status, msg := idpweb.SendErrorStatus(err)
			return s.renderCentre(c, ac, status, map[string]any{"PhoneError": msg})
		}
	}
	return s.renderCentre(c, ac, http.StatusOK, map[string]any{"NewPhone": e164, "NewPhoneMasked": phone.Mask(e164)})
}

func (s *Centre) accountPhoneChange(c echo.Context) error {
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
	errOld := s.OTP.Verify(ctx, a.Phone, otp.PurposeChangePhone, c.FormValue("old_code"), c.RealIP())
	errNew := s.OTP.Verify(ctx, e164, otp.PurposeChangePhone, c.FormValue("new_code"), c.RealIP())
	if err := errors.Join(errOld, errNew); err != nil {
		ev := s.centreEvent(c, ac, "account.phone_change", map[string]string{"old_code": idpweb.Result(errOld), "new_code": idpweb.Result(errNew)})
		ev.Result, ev.Reason = audit.Failure, idpweb.Reason(err)
		s.Events.Record(ctx, ev)
		oldUE, newUE := idpweb.CodeError(errOld), idpweb.CodeError(errNew)
		if (errOld != nil && oldUE == nil) || (errNew != nil && newUE == nil) {
			return web.Internal(err)
		}
		ue := oldUE
		if ue == nil || (newUE != nil && newUE.Status > ue.Status) {
			ue = newUE
		}
		// Say which of the two codes failed, and why.
		switch {
		case ue.Status == http.StatusTooManyRequests:
			again["PhoneError"] = ue.Message
		case oldUE != nil && newUE != nil:
			again["PhoneError"] = "原手机号和新手机号的验证码都不正确或已失效"
		case oldUE != nil:
			again["PhoneError"] = "原手机号的验证码：" + oldUE.Message
		default:
			again["PhoneError"] = "新手机号的验证码：" + newUE.Message
		}
		return s.renderCentre(c, ac, ue.Status, again)
	}
	old := a.Phone
	_, err = s.Accounts.Update(ctx, a.ID, func(acc *account.Account) error {
		acc.Phone = e164
		return nil
	})
	if errors.Is(err, account.ErrPhoneTaken) {
		ev := s.centreEvent(c, ac, "account.phone_change", nil)
		ev.Result, ev.Reason = audit.Failure, "phone_taken"
		s.Events.Record(ctx, ev)
		return s.renderCentre(c, ac, http.StatusConflict, map[string]any{"PhoneError": "该手机号已被其他账号使用，无法更换；如有疑问请联系本单位资助管理员"})
	}
	if err != nil {
		return web.Internal(err)
	}
	// Every session and token was issued to the old number's holder.
	if err := s.SignOuter.SignOutEverywhere(ctx, a.ID); err != nil {
		return web.Internal(err)
	}
	s.Events.Record(ctx, s.centreEvent(c, ac, "account.phone_changed", map[string]string{"old": audit.MaskPhone(old), "new": audit.MaskPhone(e164)}))
	s.notifyOldPhone(ctx, old)
	s.Cookie.Clear(c)
	return c.Redirect(http.StatusSeeOther, "/login")
}

// notifyOldPhone tells the previous number that the account left it
// (SECURITY.md #49): if someone else made the change, the holder hears of
// it. The template carries no variables, so the new number is not sent to
// the old one. A gateway failure does not undo the change; it is logged.
func (s *Centre) notifyOldPhone(ctx context.Context, old string) {
	if s.SMS == nil {
		return
	}
	if err := s.SMS.Send(ctx, sms.Message{Phone: old, Purpose: sms.NoticePhoneChanged, SentAt: s.Now()}); err != nil {
		s.Log.WarnContext(ctx, "account centre: phone change notice not sent", slog.String("phone", phone.Mask(old)), slog.Any("err", err))
	}
}

// factorsSatisfy: a session weaker than the account's policy is sent to
// sign in again.
func (s *Centre) factorsSatisfy(ctx context.Context, sso *session.Session, id *identity.Identity) bool {
	ok, err := s.MFA.Satisfied(ctx, sso, id.Account, "")
	if err != nil {
		s.Log.ErrorContext(ctx, "second factor policy", "err", err)
	}
	return ok
}
