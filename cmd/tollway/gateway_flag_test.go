package main

import "testing"

// TestAllowPrivateTargetsComesFromTheFlagOrTheVariable: off by default,
// on from TOLLWAY_ALLOW_PRIVATE_TARGETS, and the flag wins.
func TestAllowPrivateTargetsComesFromTheFlagOrTheVariable(t *testing.T) {
	c, err := parseServe(nil)
	if err != nil || c.allowPrivateTargets {
		t.Fatalf("default: %v, allow private %v; want off", err, c.allowPrivateTargets)
	}
	t.Setenv("TOLLWAY_ALLOW_PRIVATE_TARGETS", "true")
	if c, err = parseServe(nil); err != nil || !c.allowPrivateTargets {
		t.Fatalf("from the variable: %v, allow private %v; want on", err, c.allowPrivateTargets)
	}
	if c, err = parseServe([]string{"--allow-private-targets=false"}); err != nil || c.allowPrivateTargets {
		t.Fatalf("flag false over the variable: %v, allow private %v; want off", err, c.allowPrivateTargets)
	}
}
