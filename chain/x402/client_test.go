package x402

import (
	"testing"
)

// TestPayExactVerifies: a payment made with PayExact verifies, names its
// payer, and carries the payer's balance read on chain; another signer's
// key does not.
func TestPayExactVerifies(t *testing.T) {
	w := newWorld(t)
	body, err := PayExact(w.alice.key, w.requirements(), "http://127.0.0.1/paid", w.now)
	if err != nil {
		t.Fatal(err)
	}
	v := w.verify(body)
	if !v.Response.IsValid || v.Response.Payer != w.alice.address.Hex() {
		t.Fatalf("PayExact's payment: %+v", v.Response)
	}
	if v.Balance == nil || v.Balance.Cmp(w.balance(w.alice.address)) != 0 {
		t.Fatalf("verification's balance %v, want alice's %v", v.Balance, w.balance(w.alice.address))
	}
	settled := w.settle(v.Authorization)
	if settled == 0 {
		t.Fatal("the authorization did not settle on chain")
	}
	requirements := w.requirements()
	requirements.Network = "solana:1"
	if _, err := PayExact(w.alice.key, requirements, "", w.now); err == nil {
		t.Fatal("PayExact accepted a network that is not eip155")
	}
}
