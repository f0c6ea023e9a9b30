package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollway/tollway/chain/x402"
)

// TestX402OverHTTP: a resource server's verify and settle calls against the
// server's facilitator, on the embedded chain: a payment a new wallet
// signs verifies once (a retry with the same Idempotency-Key gets the same
// answer, a new verification is refused as used, also after a restart);
// two payments the balance cannot both cover are not both valid; bad
// bodies are 400s, calls without a key with x402:facilitate 401/403; it
// settles once, the payee paid the price, every retry (also after a
// restart) answering the same transaction; every answer as /openapi.json
// says.
func TestX402OverHTTP(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	m := openMarket(t, n, 1_000_000) // the consumer's wallet keeps 0 USDC: its deposit took it all
	var key struct{ Key string }
	n.mustCall("POST", "/v1/accounts/"+m.supplyAcct+"/keys", n.signIn(m.supplier), map[string]any{"label": "resource server",
		"kind": "secret", "scopes": []string{"x402:facilitate"}}, &key)
	payer := mustKey(t)
	n.mustCall("POST", "/v1/admin/chain/faucet", settleAdminToken, map[string]string{
		"address": crypto.PubkeyToAddress(payer.PublicKey).Hex(), "usdc": "50000"}, nil)

	var supported x402.SupportedResponse
	n.mustCall("GET", "/x402/supported", key.Key, nil, &supported)
	if len(supported.Kinds) == 0 || supported.Kinds[0].Network != "eip155:1337" || supported.Kinds[0].Scheme != "exact" {
		t.Fatalf("supported: %+v", supported)
	}
	requirements := x402.PaymentRequirements{Scheme: "exact", Network: "eip155:1337", Amount: "30000", Asset: n.usdc.Hex(),
		PayTo: crypto.PubkeyToAddress(m.supplier.PublicKey).Hex(), MaxTimeoutSeconds: 300,
		Extra: json.RawMessage(`{"name":"USD Coin","version":"2"}`)}
	pay := func() json.RawMessage {
		body, err := x402.PayExact(payer, requirements, "http://127.0.0.1/paid", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	verify := func(body json.RawMessage, idempotencyKey string) x402.VerifyResponse {
		t.Helper()
		var r x402.VerifyResponse
		if status := n.callWith("POST", "/x402/verify", key.Key, idempotencyKey, body, &r); status != 200 {
			t.Fatalf("POST /x402/verify = %d", status)
		}
		return r
	}
	first := pay()
	if r := verify(first, "v-1"); !r.IsValid || r.Payer != crypto.PubkeyToAddress(payer.PublicKey).Hex() {
		t.Fatalf("first verification: %+v", r)
	}
	if r := verify(first, "v-1"); !r.IsValid {
		t.Fatalf("the retry with the same Idempotency-Key: %+v, want the first answer", r)
	}
	if r := verify(first, ""); r.IsValid || r.InvalidReason != x402.ReasonNonceAlreadyUsed {
		t.Fatalf("a new verification of the same authorization: %+v", r)
	}
	// 50,000 held, 30,000 reserved: another 30,000 does not fit.
	if r := verify(pay(), ""); r.IsValid || r.InvalidReason != x402.ReasonInsufficientBalance {
		t.Fatalf("a second payment the balance cannot cover too: %+v", r)
	}
	n.stop()
	n = startNode(t, dir)
	if r := verify(first, ""); r.IsValid || r.InvalidReason != x402.ReasonNonceAlreadyUsed {
		t.Fatalf("after a restart: %+v", r)
	}
	if r := verify(pay(), ""); r.IsValid || r.InvalidReason != x402.ReasonInsufficientBalance {
		t.Fatalf("after a restart the reservation is gone: %+v", r)
	}

	// Settled once: the payee's wallet holds the price; every retry answers
	// the same transaction.
	settle := func(body json.RawMessage) x402.SettleResponse {
		t.Helper()
		var r x402.SettleResponse
		if status := n.callWith("POST", "/x402/settle", key.Key, "", body, &r); status != 200 {
			t.Fatalf("POST /x402/settle = %d", status)
		}
		return r
	}
	settled := settle(first)
	if !settled.Success || settled.Transaction == "" || settled.Network != "eip155:1337" || settled.Amount != "30000" {
		t.Fatalf("settle: %+v", settled)
	}
	if again := settle(first); again != settled {
		t.Fatalf("a second settle: %+v, want %+v", again, settled)
	}
	payee := crypto.PubkeyToAddress(m.supplier.PublicKey)
	if got := n.usdcOf(payee); got != 30_000 {
		t.Fatalf("the payee's USDC is %d, want 30000", got)
	}
	if got := n.usdcOf(crypto.PubkeyToAddress(payer.PublicKey)); got != 20_000 {
		t.Fatalf("the payer's USDC is %d, want 20000", got)
	}
	n.stop()
	n = startNode(t, dir)
	if again := settle(first); again != settled {
		t.Fatalf("a settle after a restart: %+v, want %+v", again, settled)
	}
	if got := n.usdcOf(payee); got != 30_000 {
		t.Fatalf("the payee's USDC is %d after a restart, want 30000", got)
	}
	// wait=final (per payment, what settle does anyway); another wait is a 400.
	var final x402.SettleResponse
	if status := n.callWith("POST", "/x402/settle?wait=final", key.Key, "", first, &final); status != 200 || final != settled {
		t.Fatalf("POST /x402/settle?wait=final = %d %+v, want %+v", status, final, settled)
	}
	if status := n.callWith("POST", "/x402/settle?wait=soon", key.Key, "", first, nil); status != 400 {
		t.Fatalf("POST /x402/settle?wait=soon = %d, want 400", status)
	}
	for _, c := range []struct {
		body   string
		token  string
		status int
	}{
		{`{"x402Version":2`, key.Key, 400},
		{`{"x402Version":2,"paymentPayload":{},"paymentRequirements":{}}`, key.Key, 400},
		{`[]`, key.Key, 400},
		{string(first), "", 401},
		{string(first), m.consumerKey, 403},
	} {
		if got := n.callWith("POST", "/x402/verify", c.token, "", json.RawMessage(c.body), nil); got != c.status {
			t.Errorf("POST /x402/verify %.40s = %d, want %d", c.body, got, c.status)
		}
	}
}

// TestX402SettleSurvivesKill: the server is killed (SIGKILL) right after a
// settlement's transaction is recorded and before it is sent; restarted,
// it sends the recorded transaction, and the client's retry of the settle
// gets success: the payee is paid the price exactly once. Per payment the
// kill comes in the middle of the settle request; with
// --x402-settle=batch the settle was answered (queued), and the kill comes
// when its batch is recorded; the retry asks with wait=final.
func TestX402SettleSurvivesKill(t *testing.T) {
	for _, mode := range []string{"payment", "batch"} {
		t.Run(mode, func(t *testing.T) { testX402SettleSurvivesKill(t, mode) })
	}
}

func testX402SettleSurvivesKill(t *testing.T, mode string) {
	dir := t.TempDir()
	settleMode := "TOLLWAY_X402_SETTLE=" + mode
	n := startNodeWith(t, dir, "200ms", settleMode)
	m := openMarket(t, n, 1_000_000)
	var key struct{ Key string }
	n.mustCall("POST", "/v1/accounts/"+m.supplyAcct+"/keys", n.signIn(m.supplier), map[string]any{"label": "resource server",
		"kind": "secret", "scopes": []string{"x402:facilitate"}}, &key)
	payer := mustKey(t)
	payerAddress := crypto.PubkeyToAddress(payer.PublicKey)
	n.mustCall("POST", "/v1/admin/chain/faucet", settleAdminToken, map[string]string{"address": payerAddress.Hex(), "usdc": "50000"}, nil)
	payTo := crypto.PubkeyToAddress(mustKey(t).PublicKey)
	body, err := x402.PayExact(payer, x402.PaymentRequirements{Scheme: "exact", Network: "eip155:1337", Amount: "30000",
		Asset: n.usdc.Hex(), PayTo: payTo.Hex(), MaxTimeoutSeconds: 600, Extra: json.RawMessage(`{"name":"USD Coin","version":"2"}`)},
		"http://127.0.0.1/paid", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	n.stop()

	stage := map[string]string{"payment": "x402-recorded", "batch": "x402-batch-recorded"}[mode]
	n = startNodeWith(t, dir, "200ms", settleMode, "TOLLWAY_X402_BATCH_WINDOW=200ms", killAtStage+"="+stage)
	request, _ := http.NewRequest("POST", n.api+"/x402/settle", bytes.NewReader(body))
	request.Header.Set("Authorization", "Bearer "+key.Key)
	response, err := http.DefaultClient.Do(request)
	switch {
	case mode == "payment" && err == nil:
		response.Body.Close()
		t.Fatalf("the settle was answered %d, want the server killed before answering", response.StatusCode)
	case mode == "batch":
		var queued x402.SettleResponse
		if err != nil {
			t.Fatalf("the batched settle: %v, want an answer before the batch", err)
		}
		err = json.NewDecoder(response.Body).Decode(&queued)
		response.Body.Close()
		if err != nil || response.StatusCode != 200 || !queued.Success || queued.Transaction != "" {
			t.Fatalf("the batched settle: %d %+v (%v), want success before its batch", response.StatusCode, queued, err)
		}
	}
	select {
	case <-n.exited:
	case <-time.After(settleWait):
		t.Fatalf("serve did not reach its kill stage: %s", n.stderr.String())
	}
	if status, ok := n.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || status.Signal() != syscall.SIGKILL {
		t.Fatalf("serve ended with %v, want SIGKILL at %s: %s", n.cmd.ProcessState, stage, n.stderr.String())
	}

	n = startNodeWith(t, dir, "200ms", settleMode)
	var settled x402.SettleResponse
	for deadline := time.Now().Add(settleWait); ; {
		n.mustCall("POST", "/x402/settle?wait=final", key.Key, json.RawMessage(body), &settled)
		if settled.ErrorReason != "settlement_pending" || time.Now().After(deadline) {
			break
		}
	}
	if !settled.Success || settled.Transaction == "" {
		t.Fatalf("the retried settle: %+v", settled)
	}
	if got := n.usdcOf(payTo); got != 30_000 {
		t.Errorf("the payee holds %d USDC, want the price once, 30000", got)
	}
	if got := n.usdcOf(payerAddress); got != 20_000 {
		t.Errorf("the payer holds %d USDC, want 20000", got)
	}
}
