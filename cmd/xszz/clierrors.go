package main

import (
	"errors"
	"strings"

	"github.com/xszz/xszz/idp/admin"
)

// The services speak Chinese to the people on the pages; the command line
// speaks English to operators, whose documentation is English. cliError
// turns the services' refusals into English at the command line's edge,
// so one command's messages are in one language. A test keeps the table
// complete for the admin service's messages.

// englishMessages maps the services' Chinese messages (or their fixed
// prefix) to English.
var englishMessages = map[string]string{
	// idp/admin
	"账号不存在或不在您的管辖范围内":             "no such account",
	"只有单位管理员可以进行此操作":              "only unit admins may do this",
	"同一单位的管理员由上级单位管理，您不能对其进行此操作":  "admins of a unit are managed from the unit above",
	"只能在下级单位任命管理员；本单位的管理员由上级单位任命": "admins are appointed only in units below one's own",
	"不能对自己的账号进行此操作，请联系上级管理员":      "an admin cannot do this to its own account",
	"该单位不在您的管辖范围内":                "the unit is outside the actor's subtree",
	"角色只能是 staff 或 admin":         "role must be staff or admin",
	"该账号不在待审核状态":                  "the account is not pending approval",
	"该账号由上级单位停用，只能由上级单位重新启用":      "the account was disabled above this unit; only there can it be enabled again",
	"目标单位不在您的管辖范围内":               "the target unit is outside the actor's subtree",
	admin.CockpitRefusal: "the cockpit grant is only for accounts at ministry, province, city or county level; school and department accounts cannot hold it",
	"未知的应用授权：":           "unknown application grant: ",
	"账号未启用，不能授权":         "the account is not active; it cannot be granted access",
	"账号未归属单位，不能授权数字驾驶舱":  "the account belongs to no unit; it cannot be granted the cockpit",
	"本系统未启用动态口令":         "second factors (TOTP) are not enabled",
	"该账号尚未绑定身份验证器，无需重置":  "the account has no authenticator to reset",
	"您的动态口令错误或已使用，请输入您验证器中新的 6 位动态口令": "the admin's TOTP code is wrong or already used",
	"该手机号已有账号，不能直接开通；已提交上级管理员核实处理":    "the phone number already has an account; the case was filed for the admins above both units",
	"该核实事项不存在或不在您的管辖范围内":              "no such phone conflict",
	"请选择处理结果": "the outcome must be kept or holder_corrected",
	// idp/account (account.ValidateName)
	"姓名应为 2–30 个字符": "must be 2–30 characters",
	"姓名首尾不能有空格":     "must not start or end with a space",
	"姓名含有不可见字符":     "contains invisible characters",
	"姓名含有不允许的符号":    "contains characters not allowed in a name",
}

// cliError is err in English, with the chain kept for errors.Is/As.
func cliError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var ae *admin.Error
	if errors.As(err, &ae) && msg == ae.Error() {
		// A bare refusal: its message, without the machine code.
		msg = ae.Msg
	}
	translated := msg
	for zh, en := range englishMessages {
		translated = strings.ReplaceAll(translated, zh, en)
	}
	if translated == err.Error() {
		return err
	}
	return &englishError{msg: translated, err: err}
}

type englishError struct {
	msg string
	err error
}

func (e *englishError) Error() string { return e.msg }
func (e *englishError) Unwrap() error { return e.err }
