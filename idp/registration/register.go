package registration

import (
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/xszz/xszz/idp/account"
	"github.com/xszz/xszz/idp/audit"
	"github.com/xszz/xszz/idp/idcard"
	"github.com/xszz/xszz/idp/idpweb"
	"github.com/xszz/xszz/idp/org"
	"github.com/xszz/xszz/idp/otp"
	"github.com/xszz/xszz/idp/profile"
	"github.com/xszz/xszz/internal/phone"
	"github.com/xszz/xszz/internal/sqldb"
	"github.com/xszz/xszz/internal/web"
)

// registration is one application (手机号注册，实名制).
type registration struct {
	Phone    string `json:"phone"`
	Code     string `json:"code"`
	Name     string `json:"name"`
	OrgID    string `json:"org_id"`
	Position string `json:"position,omitempty"`
	IDNumber string `json:"id_number,omitempty"`
}

// registered is the one answer to every accepted application, whether or
// not the number (or the ID number) already had an account: the person
// hears the outcome by SMS or from their unit, and nobody can probe which
// numbers are registered (SECURITY.md #46).
var registered = map[string]string{"status": "submitted", "message": "注册申请已提交，请等待单位管理员审核。"}

const maxPosition = 50

// register checks an application and files it: the phone is proven by the
// code (purpose register), the account starts pending and waits for an
// admin of the unit or above (admin.Service.Approve).
func (s *Registration) register(c echo.Context, r registration) error {
	ctx := c.Request().Context()
	ip, ua := c.RealIP(), c.Request().UserAgent()
	if s.Orgs == nil || s.Profiles == nil {
		return &web.Error{Status: http.StatusNotFound, Code: "not_found", Message: "本系统未开放自助注册，请联系本单位资助管理员开通账号"}
	}
	bad := func(code, msg string) error {
		return &web.Error{Status: http.StatusBadRequest, Code: code, Message: msg}
	}
	e164, err := phone.Normalize(r.Phone)
	if err != nil {
		return bad("invalid_phone", phone.UserMessage)
	}
	name := strings.TrimSpace(r.Name)
	if err := account.ValidateName(name); err != nil {
		return bad("invalid_name", err.Error())
	}
	position := strings.TrimSpace(r.Position)
	if utf8.RuneCountInString(position) > maxPosition || strings.ContainsAny(position, "<>\"'&\r\n\t") {
		return bad("invalid_position", "职务不超过 50 个字符，且不能含有特殊符号")
	}
	var idNumber string
	if strings.TrimSpace(r.IDNumber) != "" {
		if idNumber, err = idcard.Normalize(r.IDNumber, s.Now()); err != nil {
			return bad("invalid_id_number", idcard.UserMessage)
		}
	}
	if strings.TrimSpace(r.OrgID) == "" {
		return bad("invalid_org", "请查找并选择申请加入的单位")
	}
	o, err := s.Orgs.Get(ctx, strings.TrimSpace(r.OrgID))
	if errors.Is(err, sqldb.ErrNotFound) || (err == nil && o.Status != org.StatusActive) {
		return bad("invalid_org", "所选单位不存在或已停用")
	}
	if err != nil {
		return web.Internal(err)
	}
	masked := audit.MaskPhone(e164)
	if err := s.OTP.Verify(ctx, e164, otp.PurposeRegister, r.Code, ip); err != nil {
		reason := idpweb.Reason(err)
		s.Events.Record(ctx, audit.Event{Type: "account.register", Result: audit.Failure, Reason: reason, SubjectID: masked, OrgID: o.ID, IP: ip, UserAgent: ua})
		if ue := idpweb.CodeError(err); ue != nil {
			return ue
		}
		return web.Internal(err)
	}
	refuse := func(reason string) error {
		s.Events.Record(ctx, audit.Event{Type: "account.register", Result: audit.Failure, Reason: reason, SubjectID: masked, OrgID: o.ID, IP: ip, UserAgent: ua})
		return nil
	}
	if holder, err := s.Accounts.ByPhone(ctx, e164); err == nil {
		// The applicant proved the number: whoever holds it (perhaps a
		// stranger's number provisioned by an admin) does not silently
		// keep it; the admins above both units decide.
		if s.Claims != nil {
			if err := s.Claims.ClaimPhone(ctx, holder, name, o.ID, ip, ua); err != nil {
				return web.Internal(err)
			}
		}
		return refuse("phone_taken")
	} else if !errors.Is(err, sqldb.ErrNotFound) {
		return web.Internal(err)
	}
	// An ID number another account holds is not refused: the profile is
	// stored flagged for the admins (profile.Store.Put), so nobody blocks
	// a number's owner by registering with it first.
	// The profile goes first under the new id; should the account insert
	// lose a race for the phone, the profile is removed again.
	id := account.NewID()
	err = s.Profiles.Put(ctx, profile.Profile{AccountID: id, Position: position, IDNumber: idNumber})
	if errors.Is(err, profile.ErrIDNumberTaken) {
		return refuse("id_number_taken")
	}
	if err != nil {
		return web.Internal(err)
	}
	acc, err := s.Accounts.Create(ctx, account.Account{ID: id, Phone: e164, Name: name, OrgID: o.ID, Role: account.RoleStaff, Status: account.StatusPending})
	if err != nil {
		if derr := s.Profiles.Delete(ctx, id); derr != nil {
			s.Log.ErrorContext(ctx, "remove profile of failed registration", "err", derr)
		}
		if errors.Is(err, account.ErrPhoneTaken) {
			return refuse("phone_taken")
		}
		return web.Internal(err)
	}
	path := ""
	if len(o.Path) > 0 {
		path = "/" + strings.Join(o.Path, "/") + "/"
	}
	s.Events.Record(ctx, audit.Event{Type: "account.registered", Result: audit.Success, ActorID: acc.ID, SubjectID: acc.ID, OrgID: o.ID, OrgPath: path, IP: ip, UserAgent: ua,
		Detail: map[string]string{"id_number": idpweb.BoolText(idNumber != "")}})
	return nil
}

func (s *Registration) apiRegister(c echo.Context) error {
	var r registration
	if err := idpweb.BindJSON(c, &r); err != nil {
		return err
	}
	if err := s.register(c, r); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, registered)
}

// --- pages

func (s *Registration) registerData(c echo.Context, r registration, sent bool, errMsg, notice string) map[string]any {
	d := map[string]any{"Title": "注册", "R": r, "CodeSent": sent, "Error": errMsg, "Notice": notice, "Script": "register.js",
		"OrgQ": strings.TrimSpace(c.FormValue("org_q"))}
	if id := strings.TrimSpace(r.OrgID); id != "" && s.Orgs != nil {
		if o, err := s.Orgs.Get(c.Request().Context(), id); err == nil && o.Status == org.StatusActive {
			d["Org"] = o
		}
	}
	return d
}

func (s *Registration) registerPage(c echo.Context) error {
	return idpweb.Render(c, http.StatusOK, "register.html", s.registerData(c, registration{}, false, "", ""))
}

func formRegistration(c echo.Context) registration {
	return registration{
		Phone: c.FormValue("phone"), Code: c.FormValue("code"), Name: c.FormValue("name"),
		OrgID: c.FormValue("org_id"), Position: c.FormValue("position"), IDNumber: c.FormValue("id_number"),
	}
}

func (s *Registration) registerSendForm(c echo.Context) error {
	idpweb.LimitBody(c)
	r := formRegistration(c)
	r.Code = ""
	_, retry, err := s.Codes.SendCode(c, r.Phone, otp.PurposeRegister)
	if err != nil {
		// As on the login page: asking again too soon keeps the form
		// and counts down on the button.
		if wait, ok := idpweb.ResendWait(err, c.FormValue("sent") != ""); ok {
			d := s.registerData(c, r, true, "", "验证码已发送，请查收短信；"+idpweb.WaitText(wait)+"后可重新获取。")
			d["Wait"] = wait
			return idpweb.Render(c, http.StatusOK, "register.html", d)
		}
		status, msg := idpweb.SendErrorStatus(err)
		d := s.registerData(c, r, false, msg, "")
		d["Challenge"] = idpweb.ChallengeView(err)
		return idpweb.Render(c, status, "register.html", d)
	}
	d := s.registerData(c, r, true, "", "验证码已发送，请填写以下信息完成注册申请。")
	d["Wait"] = idpweb.Seconds(retry)
	return idpweb.Render(c, http.StatusOK, "register.html", d)
}

func (s *Registration) registerForm(c echo.Context) error {
	idpweb.LimitBody(c)
	r := formRegistration(c)
	q := strings.TrimSpace(c.FormValue("org_q"))
	// 查找 (no script): list the units matching what was typed, to choose
	// from; a bare unit code typed in the search box is taken as it is.
	if c.FormValue("action") == "find" || (strings.TrimSpace(r.OrgID) == "" && q != "") {
		if c.FormValue("action") != "find" {
			if o, err := s.Orgs.Get(c.Request().Context(), q); err == nil && o.Status == org.StatusActive {
				r.OrgID = o.ID
				return s.submit(c, r)
			}
		}
		return s.listUnits(c, r, q)
	}
	return s.submit(c, r)
}

func (s *Registration) listUnits(c echo.Context, r registration, q string) error {
	found, err := s.findUnits(c.Request().Context(), q)
	if err != nil {
		return web.Internal(err)
	}
	r.OrgID = ""
	msg := ""
	switch {
	case len([]rune(q)) < 2:
		msg = "请至少输入单位名称中的两个字，或单位代码、地区代码。"
	case len(found) == 0:
		msg = "没有找到名称含“" + q + "”的单位，请换个写法，或向本单位管理员询问单位代码。"
	}
	d := s.registerData(c, r, true, msg, "")
	d["Matches"] = found
	return idpweb.Render(c, http.StatusOK, "register.html", d)
}

func (s *Registration) submit(c echo.Context, r registration) error {
	if err := s.register(c, r); err != nil {
		var ue *web.Error
		if !errors.As(err, &ue) || ue.Status >= 500 {
			return err
		}
		r.Code = ""
		return idpweb.Render(c, ue.Status, "register.html", s.registerData(c, r, true, ue.Message, ""))
	}
	return idpweb.Render(c, http.StatusAccepted, "done.html", map[string]any{"Title": "注册申请已提交", "Message": registered["message"],
		"Links": []idpweb.Link{{Href: "/login", Text: "返回登录页", Primary: true}}})
}
