package main

import (
	"flag"
	"fmt"
	"strconv"

	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/httpapi"
)

// authFlags are the flags of the sign-in routes' per-client limits
// (httpapi/clientlimit.go says why each default).
type authFlags struct {
	rateLimit, keyFailureLimit, passwordHashes *string
}

// authConfig is what authFlags parse to.
type authConfig struct {
	rateLimit, keyFailureLimit access.RateLimit
	passwordHashes             int
}

func addAuthFlags(flags *flag.FlagSet) authFlags {
	return authFlags{
		rateLimit: flags.String("auth-rate-limit", envOr("TOLLWAY_AUTH_RATE_LIMIT", httpapi.AuthRateLimitDefault),
			"token bucket per client IP over signup, login, refresh and SIWE, requests/duration (TOLLWAY_AUTH_RATE_LIMIT)"),
		keyFailureLimit: flags.String("key-failure-limit", envOr("TOLLWAY_KEY_FAILURE_LIMIT", httpapi.KeyFailureLimitDefault),
			"token bucket per client IP of invalid API keys; beyond it the IP's key requests get 429 (TOLLWAY_KEY_FAILURE_LIMIT)"),
		passwordHashes: flags.String("password-hashes", envOr("TOLLWAY_PASSWORD_HASHES", "0"),
			"bcrypt computations at once; 0: half of GOMAXPROCS, at least 1 (TOLLWAY_PASSWORD_HASHES)"),
	}
}

func (f authFlags) parse() (authConfig, error) {
	var c authConfig
	var err error
	if c.rateLimit, err = access.ParseRateLimit(*f.rateLimit); err != nil {
		return c, fmt.Errorf("--auth-rate-limit: %w", err)
	}
	if c.keyFailureLimit, err = access.ParseRateLimit(*f.keyFailureLimit); err != nil {
		return c, fmt.Errorf("--key-failure-limit: %w", err)
	}
	n, err := strconv.ParseUint(*f.passwordHashes, 10, 16)
	if err != nil {
		return c, fmt.Errorf("--password-hashes %q: want 0-65535", *f.passwordHashes)
	}
	c.passwordHashes = int(n)
	return c, nil
}

// apply sets the limits in an httpapi.Config.
func (c authConfig) apply(config *httpapi.Config) {
	config.AuthRateLimit, config.KeyFailureLimit, config.PasswordHashesMax = c.rateLimit, c.keyFailureLimit, c.passwordHashes
}
