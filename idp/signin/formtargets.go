package signin

import "github.com/labstack/echo/v4"

// PendingFlow returns the authorization request a sign-in waiting for its
// second factor will resume (from the second-factor cookie), or "". The
// IdP's Content-Security-Policy lets the second-factor page's form lead
// to that request's redirect URI.
func (s *SignIn) PendingFlow(c echo.Context) string {
	ck, err := c.Cookie(mfaCookie)
	if err != nil {
		return ""
	}
	st, err := s.openMFA(ck.Value)
	if err != nil {
		return ""
	}
	return st.Flow
}
