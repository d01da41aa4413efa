package amazontest

// ForgetAccessTokens makes SP-API refuse every access token and Restricted
// Data Token issued so far as "revoked, malformed or invalid", while the
// refresh tokens and client secrets that made them keep working, so new
// tokens are accepted. It is a fault for clients that must drop a token
// Amazon refuses and fetch a fresh one instead of failing until the token
// would have expired. It reports how many tokens were forgotten.
func (s *Server) ForgetAccessTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.reg.access)
	clear(s.reg.access)
	return n
}
