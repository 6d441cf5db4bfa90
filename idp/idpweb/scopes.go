package idpweb

import "strings"

// scopeSentences says in plain words what an application gets with a
// scope, for the consent page and the account centre's list of
// authorised applications. openid is the sign-in itself and needs no line.
var scopeSentences = map[string]string{
	"profile":        "你的姓名",
	"phone":          "你的手机号",
	"org":            "你所在单位和职务（角色）",
	"offline_access": "长期保持登录，你不在时也能继续访问（直到你在账号中心取消授权）",
	"cockpit":        "数字驾驶舱访问权限",
	"admin":          "以管理员身份管理你所辖单位的账号",
	"directory":      "通讯录：你有权查看的单位和人员",
}

// ScopeSentences turns granted scopes into sentences, in a fixed order;
// scopes without a sentence (openid, unknown ones) are left out.
func ScopeSentences(scopes []string) []string {
	order := []string{"profile", "phone", "org", "directory", "cockpit", "admin", "offline_access"}
	have := map[string]bool{}
	for _, s := range scopes {
		have[strings.TrimSpace(s)] = true
	}
	var out []string
	for _, s := range order {
		if have[s] {
			out = append(out, scopeSentences[s])
		}
	}
	return out
}
