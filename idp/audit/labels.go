package audit

import (
	"sort"
	"strings"
)

// The audit log stores machine words (event types, detail keys, reasons);
// people read it in the console in Chinese. The tables are here, beside
// the events, and a test fails when code records an event type that has
// no label.

// eventLabels name every event type the IdP and its commands record.
var eventLabels = map[string]string{
	"login.success":                 "登录成功",
	"login.failure":                 "登录失败",
	"login.mfa_required":            "短信验证通过，等待动态口令",
	"logout":                        "退出登录",
	"sms.sent":                      "发送短信验证码",
	"session.ended":                 "退出一台设备",
	"session.signed_out_everywhere": "退出所有设备",

	"totp.enrolled":                "绑定身份验证器",
	"totp.reset":                   "重新绑定身份验证器",
	"totp.reset_by_admin":          "管理员重置身份验证器",
	"totp.recovery_used":           "使用恢复码登录",
	"totp.recovery_codes_replaced": "重新生成恢复码",

	"account.register":                "提交注册申请",
	"account.registered":              "注册申请已提交",
	"account.created":                 "开通账号",
	"account.approved":                "通过注册",
	"account.rejected":                "驳回注册",
	"account.disabled":                "停用账号",
	"account.enabled":                 "启用账号",
	"account.role_changed":            "修改角色",
	"account.moved":                   "调整单位",
	"account.renamed":                 "修改姓名",
	"account.phone_change":            "更换手机号（验证）",
	"account.phone_changed":           "更换手机号",
	"account.phone_conflict":          "手机号冲突待处理",
	"account.phone_conflict_resolved": "处理手机号冲突",

	"grant.added":   "授予驾驶舱权限",
	"grant.refused": "拒绝授予驾驶舱权限",
	"grant.revoked": "撤销驾驶舱权限",

	"consent.granted": "同意应用授权",
	"consent.denied":  "拒绝应用授权",
	"consent.revoked": "取消应用授权",

	"client.created": "登记应用",
	"client.deleted": "删除应用",
	"client.updated": "修改应用登记",

	"client.secret_rotated": "更换应用密钥",
	"key.rotated":           "轮换签名密钥",
	"org.imported":          "导入单位",
	"org.created":           "新建单位",
	"org.moved":             "调整单位隶属",
	"audit.exported":        "导出审计日志",
}

// EventLabel names an event type in Chinese; an unknown type shows as it
// is, so nothing is hidden.
func EventLabel(typ string) string {
	if l, ok := eventLabels[typ]; ok {
		return l
	}
	return typ
}

// HasLabel says whether an event type has a Chinese name.
func HasLabel(typ string) bool {
	_, ok := eventLabels[typ]
	return ok
}

// EventTypes lists the labelled event types with their names, sorted by
// type, for the console's filter.
func EventTypes() [][2]string {
	out := make([][2]string, 0, len(eventLabels))
	for t, l := range eventLabels {
		out = append(out, [2]string{t, l})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

var reasonLabels = map[string]string{
	"invalid_code": "验证码错误", "invalid_totp": "动态口令错误", "invalid_phone": "手机号格式错误",
	"locked": "错误次数过多已锁定", "totp_locked": "动态口令错误次数过多已锁定", "totp_exhausted": "动态口令尝试次数用尽",
	"no_account": "手机号未开通账号", "pending": "账号待审核", "disabled": "账号已停用",
	"rate_limited": "发送过于频繁", "challenge_failed": "人机验证未通过", "error": "系统错误",
	"phone_taken": "手机号已被占用", "id_number_taken": "身份证号已被占用",
	"level": "单位级别不允许", "inactive": "账号未启用", "no_org": "账号未归属单位",
}

// ReasonLabel names the reason of a failure.
func ReasonLabel(r string) string {
	if l, ok := reasonLabels[r]; ok {
		return l
	}
	return r
}

// detailKeys name the keys of Detail; values are translated by
// detailValues where they are machine words.
var detailKeys = map[string]string{
	"amr": "登录方式", "enrol": "首次绑定", "purpose": "用途", "app": "应用",
	"id_number": "身份证号", "position": "职务", "own": "本设备", "old": "原手机号", "new": "新手机号",
	"old_code": "原手机号验证码", "new_code": "新手机号验证码", "left": "剩余恢复码",
	"role": "角色", "org_id": "单位", "conflict": "冲突编号", "source": "来源",
	"kids": "密钥", "name": "名称", "rows": "行数", "inserted": "新增", "updated": "更新",
	"parent_id": "上级单位", "format": "格式", "type": "类型", "level": "单位级别", "notified": "短信通知",
	"changed": "修改项", "outcome": "处理结果",
}

var detailValues = map[string]string{
	"sms": "短信验证码", "otp": "动态口令", "true": "是", "false": "否",
	"kept": "号码仍归现账号", "holder_corrected": "已更正现账号",
	"provision": "管理员开通", "registration": "本人注册",
	"given": "已填写", "none": "未填写", "success": "正确", "failure": "错误",
	"login": "登录", "register": "注册", "change_phone": "更换手机号",
	"cockpit": "数字驾驶舱", "staff": "工作人员", "admin": "管理员",
	"ministry": "部级", "province": "省级", "city": "市级", "county": "县级", "school": "学校", "department": "院系/中心校",
}

// boolish keys whose given/none read better as yes/no.
var boolish = map[string]bool{"own": true, "notified": true}

// DetailText renders an event's details as Chinese "名称：值" items,
// sorted by key. Values that are not machine words (masked phones, ids,
// counts) stay as they are.
func DetailText(d map[string]string) []string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		v := d[k]
		name, ok := detailKeys[k]
		if !ok {
			out = append(out, k+"="+v)
			continue
		}
		switch {
		case boolish[k] && v == "given":
			v = "是"
		case boolish[k] && v == "none":
			v = "否"
		default:
			words := strings.Fields(v)
			for i, w := range words {
				if l, ok := detailValues[w]; ok {
					words[i] = l
				}
			}
			v = strings.Join(words, "、")
		}
		out = append(out, name+"："+v)
	}
	return out
}
