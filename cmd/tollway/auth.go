package main

import (
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/httpapi"
)

// authConfig is the sign-in routes' per-client limits
// (httpapi/clientlimit.go says why each default).
type authConfig struct {
	rateLimit, keyFailureLimit access.RateLimit
	passwordHashes             int
}

// addAuthFlags defines the flags of c.
func addAuthFlags(flags envFlags, c *authConfig) {
	flags.Var(newRateFlag(&c.rateLimit, httpapi.AuthRateLimitDefault), "auth-rate-limit",
		"token bucket per client IP over signup, login, refresh and SIWE, requests/duration")
	flags.Var(newRateFlag(&c.keyFailureLimit, httpapi.KeyFailureLimitDefault), "key-failure-limit",
		"token bucket per client IP of invalid API keys; beyond it the IP's key requests get 429")
	flags.Var(newIntFlag(&c.passwordHashes, 0, 0, 65535, "want 0-65535"), "password-hashes",
		"bcrypt computations at once; 0: half of GOMAXPROCS, at least 1")
}

// apply sets the limits in an httpapi.Config.
func (c authConfig) apply(config *httpapi.Config) {
	config.AuthRateLimit, config.KeyFailureLimit, config.PasswordHashesMax = c.rateLimit, c.keyFailureLimit, c.passwordHashes
}
