// Package lwa obtains Login with Amazon (LWA) access tokens for the Selling
// Partner API: the refresh_token grant for seller-scoped calls, the
// client_credentials grant for grantless calls, and the authorization_code
// grant of the OAuth website flow.
//
// A [Client] talks to the token endpoint. A [CachedSource] (from
// [NewRefreshTokenSource] or [NewGrantlessSource]) keeps one token fresh:
// it refreshes ahead of expiry, shares one refresh among any number of
// concurrent callers, honours each caller's context, and never caches a
// failure. With [WithShared] it also shares its tokens with other processes
// through a tokencache.Shared (the vault's, for spgate's processes), so that
// of all of them one asks LWA.
//
// Failures are *[Error] values that match sentinels with errors.Is
// ([ErrClientRejected], [ErrGrantRejected], [ErrUnavailable], …) and say how
// to fix the problem. No error message or log line contains a client secret,
// refresh token, authorization code or access token.
package lwa
