// Package amazontest is an offline Amazon: Login with Amazon and the Selling
// Partner API as they behave on the wire, for tests, demos and benchmarks.
package amazontest

// Server is a running emulator. (Skeleton; see issue for the full server.)
type Server struct{}
