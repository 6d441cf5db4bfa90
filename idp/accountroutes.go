package idp

import "github.com/labstack/echo/v4"

// registerAccountRoutes mounts the account life cycle: the second factor
// of the sign-in, self-registration and the account centre.
func (s *Server) registerAccountRoutes(e *echo.Echo) {
	e.GET("/login/totp", s.totpPage)
	e.POST("/login/totp", s.totpSubmit, s.sameOrigin)
	e.GET("/login/totp/enrol", s.totpEnrolPage)
	e.POST("/login/totp/enrol", s.totpEnrolSubmit, s.sameOrigin)

	e.GET("/register", s.registerPage)
	e.POST("/register/send", s.registerSendForm, s.sameOrigin)
	e.POST("/register", s.registerForm, s.sameOrigin)

	e.GET("/account", s.accountPage)
	e.POST("/account/sessions/end", s.accountEndSession, s.sameOrigin)
	e.POST("/account/sessions/end-all", s.accountEndAll, s.sameOrigin)
	e.POST("/account/consents/revoke", s.accountRevokeConsent, s.sameOrigin)
	e.GET("/account/totp", s.accountTOTPPage)
	e.POST("/account/totp", s.accountTOTPSubmit, s.sameOrigin)
	e.POST("/account/totp/recovery", s.accountRecoveryCodes, s.sameOrigin)
	e.POST("/account/phone/send", s.accountPhoneSend, s.sameOrigin)
	e.POST("/account/phone", s.accountPhoneChange, s.sameOrigin)

	api := e.Group("/api/v1", s.jsonOnly, s.sameOrigin)
	api.POST("/register", s.apiRegister)
	api.POST("/login/totp", s.apiLoginTOTP)
	api.POST("/login/totp/enrol", s.apiLoginEnrol)
	api.POST("/login/totp/enrol/confirm", s.apiLoginEnrolConfirm)
}
