package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
)

// TestAWalletApprovesWithViem: the owner of an account, signed in with
// their wallet, approves an agent's charge held back for approval with a
// signature viem makes (approval.mjs, README's example), against a real
// server: the charge executes, exactly once. Skipped, loudly, without
// node; in CI (TOLLWAY_REQUIRE_NODE=1) it fails instead.
func TestAWalletApprovesWithViem(t *testing.T) {
	requireInterop(t)
	n := startNodeWith(t, t.TempDir(), "200ms")
	owner, supplier := mustKey(t), mustKey(t)
	type created struct{ ID, Key string }
	var payer, payee, agent created
	ownerJWT := n.signIn(owner)
	n.mustCall("POST", "/v1/accounts", ownerJWT, map[string]string{"name": "agents", "environment": "test"}, &payer)
	n.mustCall("POST", "/v1/accounts", n.signIn(supplier), map[string]string{"name": "api", "environment": "test"}, &payee)
	n.mustCall("POST", "/v1/admin/accounts/"+payer.ID+"/credit", settleAdminToken, map[string]string{"amount": "10000"}, nil)
	n.mustCall("POST", "/v1/accounts/"+payer.ID+"/keys", ownerJWT, map[string]any{"label": "agent", "kind": "secret",
		"scopes":   []string{"charges:write"},
		"approval": map[string]any{"above": "1000", "approvers": []string{"owner"}, "expiresInSeconds": 600}}, &agent)
	var waiting struct{ Approval struct{ ID, State string } }
	if status := n.call("POST", "/v1/charges", agent.Key, map[string]string{"to": payee.ID, "amount": "2500"}, &waiting); status != 202 {
		t.Fatalf("charge above the threshold = %d, want 202", status)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "approval.mjs", n.api, waiting.Approval.ID, fmt.Sprintf("0x%x", crypto.FromECDSA(owner)), "approve")
	cmd.Dir = interopDir
	output, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node approval.mjs: %v\n%s", err, output)
	}
	var result struct {
		Status int
		Body   struct {
			State, TransferID string
			Decisions         []struct{ Role, By string }
		}
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(string(output))), &result); err != nil {
		t.Fatalf("approval.mjs printed %s: %v", output, err)
	}
	address := crypto.PubkeyToAddress(owner.PublicKey).Hex()
	if result.Status != 200 || result.Body.State != "EXECUTED" || result.Body.TransferID != waiting.Approval.ID ||
		len(result.Body.Decisions) != 1 || result.Body.Decisions[0].Role != "owner" || result.Body.Decisions[0].By != address {
		t.Fatalf("viem's approval = %s", output)
	}
	var balance struct {
		Balance struct{ Available, Reserved string }
	}
	n.mustCall("GET", "/v1/accounts/"+payer.ID, ownerJWT, nil, &balance)
	if balance.Balance.Available != "7500" || balance.Balance.Reserved != "0" {
		t.Fatalf("payer's balance = %+v, want 7500 available, none reserved", balance.Balance)
	}
}
