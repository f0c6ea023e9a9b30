package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollway/tollway/chain/x402"
)

// x402Summary renders a user's GET /v1/x402-metrics/summary.
func x402Summary(t *testing.T, n *node, jwt string) string {
	t.Helper()
	var summary struct {
		Networks []struct {
			Network                   string
			Verified, Settled, Failed struct {
				Count  int
				Amount string
			}
		}
	}
	n.mustCall("GET", "/v1/x402-metrics/summary", jwt, nil, &summary)
	out := []string{}
	for _, s := range summary.Networks {
		out = append(out, fmt.Sprintf("%s v%d/%s s%d/%s f%d/%s", s.Network, s.Verified.Count, s.Verified.Amount,
			s.Settled.Count, s.Settled.Amount, s.Failed.Count, s.Failed.Amount))
	}
	return strings.Join(out, ", ")
}

// TestX402MetricsOverHTTP: the facilitator's calls are counted for the
// owner of the calling key's account, and with --x402-open for the owner
// of the account bound to payTo (not at all for an unbound payTo); invalid
// verifications and retries count nothing; a kill between a settlement's
// record and its outcome counts it once; the payment-identifier extension
// makes a retry answer the first outcome and refuses its id to another
// authorization. Counts survive restarts.
func TestX402MetricsOverHTTP(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	m := openMarket(t, n, 1_000_000)
	supplierJWT := n.signIn(m.supplier)
	var key struct{ Key string }
	n.mustCall("POST", "/v1/accounts/"+m.supplyAcct+"/keys", supplierJWT, map[string]any{"label": "resource server",
		"kind": "secret", "scopes": []string{"x402:facilitate"}}, &key)
	payer := mustKey(t)
	n.mustCall("POST", "/v1/admin/chain/faucet", settleAdminToken, map[string]string{
		"address": crypto.PubkeyToAddress(payer.PublicKey).Hex(), "usdc": "100000"}, nil)
	supplierWallet := crypto.PubkeyToAddress(m.supplier.PublicKey).Hex()
	pay := func(amount, payTo, paymentID string) json.RawMessage {
		t.Helper()
		body, err := x402.PayExact(payer, x402.PaymentRequirements{Scheme: "exact", Network: "eip155:1337", Amount: amount,
			Asset: n.usdc.Hex(), PayTo: payTo, MaxTimeoutSeconds: 600, Extra: json.RawMessage(`{"name":"USD Coin","version":"2"}`)},
			"http://127.0.0.1/paid", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if paymentID != "" {
			var v map[string]any
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatal(err)
			}
			v["paymentPayload"].(map[string]any)["extensions"] = map[string]any{
				"payment-identifier": map[string]any{"info": map[string]any{"required": false, "id": paymentID}}}
			if body, err = json.Marshal(v); err != nil {
				t.Fatal(err)
			}
		}
		return body
	}
	call := func(path, token string, body json.RawMessage, out any) {
		t.Helper()
		if status := n.callWith("POST", path, token, "", body, out); status != 200 {
			t.Fatalf("POST %s = %d", path, status)
		}
	}

	// By the key's owner: a valid verification, a settle, its retry; an
	// invalid verification.
	first := pay("30000", supplierWallet, "")
	var verified x402.VerifyResponse
	call("/x402/verify", key.Key, first, &verified)
	var settled x402.SettleResponse
	call("/x402/settle", key.Key, first, &settled)
	call("/x402/settle", key.Key, first, &settled)
	if !verified.IsValid || !settled.Success {
		t.Fatalf("verify %+v, settle %+v", verified, settled)
	}
	call("/x402/verify", key.Key, pay("1000000", supplierWallet, ""), &verified)
	if verified.IsValid {
		t.Fatalf("a payment over the balance verified: %+v", verified)
	}
	want := "eip155:1337 v1/30000 s1/30000 f0/0"
	if got := x402Summary(t, n, supplierJWT); got != want {
		t.Fatalf("the supplier's metrics %q, want %q", got, want)
	}

	// Killed between a settlement's record and its sending: counted once,
	// when the restarted server learns its outcome.
	killed := pay("20000", supplierWallet, "")
	n.stop()
	n = startNodeWith(t, dir, "200ms", killAtStage+"=x402-recorded")
	request, _ := http.NewRequest("POST", n.api+"/x402/settle", bytes.NewReader(killed))
	request.Header.Set("Authorization", "Bearer "+key.Key)
	if response, err := http.DefaultClient.Do(request); err == nil {
		response.Body.Close()
		t.Fatalf("the settle was answered %d, want the server killed before answering", response.StatusCode)
	}
	select {
	case <-n.exited:
	case <-time.After(settleWait):
		t.Fatalf("serve did not reach its kill stage: %s", n.stderr.String())
	}

	// Open: attributed by payTo's wallet, or not at all.
	n = startNodeWith(t, dir, "200ms", "TOLLWAY_X402_OPEN=true")
	call("/x402/settle", "", killed, &settled)
	if !settled.Success {
		t.Fatalf("the killed settle retried: %+v", settled)
	}
	const id = "pay_7d5d747be160e280504c099d984bcfe0"
	withID := pay("5000", supplierWallet, id)
	call("/x402/settle", "", withID, &settled)
	var again x402.SettleResponse
	call("/x402/settle", "", withID, &again)
	if !settled.Success || again != settled {
		t.Fatalf("settle with a payment id %+v, retried %+v", settled, again)
	}
	call("/x402/settle", "", pay("5000", supplierWallet, id), &again)
	if again.Success || again.ErrorReason != "payment_identifier_conflict" {
		t.Fatalf("another authorization under the payment id: %+v", again)
	}
	call("/x402/settle", "", pay("1000", crypto.PubkeyToAddress(mustKey(t).PublicKey).Hex(), ""), &settled)
	if !settled.Success {
		t.Fatalf("settle to an unbound wallet: %+v", settled)
	}
	var supported x402.SupportedResponse
	n.mustCall("GET", "/x402/supported", "", nil, &supported)
	if len(supported.Extensions) != 1 || supported.Extensions[0] != "payment-identifier" {
		t.Fatalf("supported extensions %v", supported.Extensions)
	}
	want = "eip155:1337 v3/55000 s3/55000 f0/0"
	if got := x402Summary(t, n, supplierJWT); got != want {
		t.Fatalf("the supplier's metrics %q, want %q", got, want)
	}
	if got := x402Summary(t, n, m.consumerJWT); got != "" {
		t.Fatalf("the consumer's metrics %q, want none", got)
	}
	if got := n.usdcOf(crypto.PubkeyToAddress(m.supplier.PublicKey)); got != 55_000 {
		t.Fatalf("the supplier's wallet holds %d, want 55000", got)
	}
	n.stop()
	n = startNode(t, dir)
	if got := x402Summary(t, n, supplierJWT); got != want {
		t.Fatalf("the supplier's metrics after a restart %q, want %q", got, want)
	}
	day := time.Now().UTC().Format(time.DateOnly)
	var daily struct {
		Total struct {
			Networks []struct{ Settled struct{ Count int } }
		}
	}
	n.mustCall("GET", "/v1/x402-metrics/daily?from="+day+"&to="+day+"&network=eip155:1337", supplierJWT, nil, &daily)
	if len(daily.Total.Networks) != 1 || daily.Total.Networks[0].Settled.Count != 3 {
		t.Fatalf("today's report %+v, want 3 settled", daily)
	}
}
