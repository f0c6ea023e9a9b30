package main

import (
	"testing"

	"github.com/tollway/tollway/engine/access"
)

func TestServeReadsTheAuthLimits(t *testing.T) {
	c, err := parseServe(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.auth.rateLimit != (access.RateLimit{Requests: 60, PerSeconds: 60}) || c.auth.keyFailureLimit != (access.RateLimit{Requests: 20, PerSeconds: 60}) || c.auth.passwordHashes != 0 {
		t.Fatalf("defaults = %+v", c.auth)
	}
	t.Setenv("TOLLWAY_KEY_FAILURE_LIMIT", "5/10s")
	c, err = parseServe([]string{"--auth-rate-limit", "10/1m", "--password-hashes", "3"})
	if err != nil {
		t.Fatal(err)
	}
	want := authConfig{rateLimit: access.RateLimit{Requests: 10, PerSeconds: 60}, keyFailureLimit: access.RateLimit{Requests: 5, PerSeconds: 10}, passwordHashes: 3}
	if c.auth != want {
		t.Fatalf("auth = %+v, want %+v", c.auth, want)
	}
	for _, args := range [][]string{{"--auth-rate-limit", "0/1s"}, {"--key-failure-limit", "ten"}, {"--password-hashes", "-1"}} {
		if _, err := parseServe(args); err == nil {
			t.Errorf("parseServe(%q) = nil error", args)
		}
	}
}
