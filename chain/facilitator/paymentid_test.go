package facilitator

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/tollway/tollway/chain/x402"
)

// withPaymentID sets the request's payment-identifier extension to raw
// (the extension's JSON).
func withPaymentID(request *x402.Request, raw string) *x402.Request {
	request.V2.PaymentPayload.Extensions = json.RawMessage(`{"payment-identifier":` + raw + `}`)
	return request
}

func idExtension(id string) string {
	return `{"info":{"required":false,"id":"` + id + `"},"schema":{"type":"object"}}`
}

// payTo is alice's payment of amount to payee.
func (w *world) payTo(payee common.Address, amount int64) *x402.Request {
	w.t.Helper()
	saved := w.payee
	w.payee = payee
	defer func() { w.payee = saved }()
	return w.pay(amount, 600)
}

func (w *world) paymentIDRows() int {
	w.t.Helper()
	n := 0
	if err := w.eng.ScanRows([]byte(paymentIDPrefix), func(_, _ []byte) error { n++; return nil }); err != nil {
		w.t.Fatal(err)
	}
	return n
}

// TestPaymentIDRetryGetsTheFirstOutcome: with a payment id, a retried
// verify answers the first verification (where one without an id is
// refused as used), a retried settle its first outcome, also after a
// restart; another authorization under the same id is refused at verify
// and at settle, and the payee is paid once.
func TestPaymentIDRetryGetsTheFirstOutcome(t *testing.T) {
	w := newWorld(t)
	w.mine()
	const id = "pay_7d5d747be160e280504c099d984bcfe0"
	request := withPaymentID(w.pay(30_000, 600), idExtension(id))
	first := w.verify(request)
	if !first.IsValid {
		t.Fatalf("verify: %+v", first)
	}
	if again := w.verify(request); again != first {
		t.Fatalf("verify retried with the id: %+v, want the first %+v", again, first)
	}
	settled := w.settle(request)
	if !settled.Success || settled.Amount != "30000" {
		t.Fatalf("settle: %+v", settled)
	}
	other := withPaymentID(w.pay(30_000, 600), idExtension(id))
	if r := w.verify(other); r.IsValid || r.InvalidReason != ReasonPaymentIdentifierConflict || r.Payer != first.Payer {
		t.Fatalf("another authorization, same id, verify: %+v, want %s", r, ReasonPaymentIdentifierConflict)
	}
	if r := w.settle(other); r.Success || r.ErrorReason != ReasonPaymentIdentifierConflict || r.Transaction != "" {
		t.Fatalf("another authorization, same id, settle: %+v, want %s", r, ReasonPaymentIdentifierConflict)
	}
	w.restart()
	w.mine()
	if again := w.settle(request); again != settled {
		t.Fatalf("settle retried after a restart: %+v, want the first %+v", again, settled)
	}
	if r := w.settle(other); r.Success || r.ErrorReason != ReasonPaymentIdentifierConflict {
		t.Fatalf("another authorization, same id, after a restart: %+v", r)
	}
	if got := w.usdcOf(w.payee); got != 30_000 {
		t.Fatalf("payee holds %d, want 30000: paid once", got)
	}
	if n := w.paymentIDRows(); n != 1 {
		t.Fatalf("%d payment id rows, want 1", n)
	}
}

// TestPaymentIDIsScopedToPayTo: two merchants' clients may use one id.
func TestPaymentIDIsScopedToPayTo(t *testing.T) {
	w := newWorld(t)
	w.mine()
	const id = "order-0000000000000001"
	other := common.HexToAddress("0x00000000000000000000000000000000000000fd")
	for _, payee := range []common.Address{w.payee, other} {
		if r := w.settle(withPaymentID(w.payTo(payee, 1_000), idExtension(id))); !r.Success {
			t.Fatalf("settle to %s with id %s: %+v", payee, id, r)
		}
	}
	if a, b := w.usdcOf(w.payee), w.usdcOf(other); a != 1_000 || b != 1_000 {
		t.Fatalf("payees hold %d and %d, want 1000 each", a, b)
	}
}

// TestPaymentIDInvalidIsRefused: a malformed extension or id is answered
// invalid_payment_identifier at verify and settle (never an error), and
// nothing is recorded.
func TestPaymentIDInvalidIsRefused(t *testing.T) {
	w := newWorld(t)
	for name, raw := range map[string]string{
		"too short":          idExtension("pay_0123456789a"),
		"too long":           idExtension("pay_" + strings.Repeat("a", 125)),
		"a forbidden char":   idExtension("pay_0123456789abcdef.x"),
		"a non-ASCII letter": idExtension("pay_0123456789abcdefé"),
		"id not a string":    `{"info":{"required":false,"id":12345678901234567}}`,
		"info not an object": `{"info":"pay_0123456789abcdef"}`,
	} {
		request := withPaymentID(w.pay(1_000, 600), raw)
		if r := w.verify(request); r.IsValid || r.InvalidReason != ReasonInvalidPaymentIdentifier {
			t.Fatalf("%s: verify %+v, want %s", name, r, ReasonInvalidPaymentIdentifier)
		}
		if r := w.settle(request); r.Success || r.ErrorReason != ReasonInvalidPaymentIdentifier || r.Network != "eip155:1337" {
			t.Fatalf("%s: settle %+v, want %s", name, r, ReasonInvalidPaymentIdentifier)
		}
	}
	request := w.pay(1_000, 600)
	request.V2.PaymentPayload.Extensions = json.RawMessage(`["not an object"]`)
	if r := w.verify(request); r.IsValid || r.InvalidReason != ReasonInvalidPaymentIdentifier {
		t.Fatalf("extensions not an object: %+v", r)
	}
	found := false
	if err := w.eng.ScanRows([]byte("x402/"), func(_, _ []byte) error { found = true; return nil }); err != nil || found {
		t.Fatalf("a refused payment id left rows (%v)", err)
	}
	// No id, or an extension without one, is no claim.
	for _, raw := range []string{`{"info":{"required":false}}`, idExtension(""), `null`} {
		if r := w.verify(withPaymentID(w.pay(1_000, 600), raw)); !r.IsValid {
			t.Fatalf("extension %s: %+v, want valid", raw, r)
		}
	}
	if n := w.paymentIDRows(); n != 0 {
		t.Fatalf("%d payment id rows, want 0", n)
	}
}

// TestPaymentIDTakenAtSettleAfterAVerifyWithout: an authorization verified
// without an id and settled with one holds the id from then on.
func TestPaymentIDTakenAtSettleAfterAVerifyWithout(t *testing.T) {
	w := newWorld(t)
	w.mine()
	const id = "pay_aaaaaaaaaaaaaaaaaaaaaaaa"
	request := w.pay(2_000, 600)
	if r := w.verify(request); !r.IsValid {
		t.Fatalf("verify: %+v", r)
	}
	if r := w.settle(withPaymentID(request, idExtension(id))); !r.Success {
		t.Fatalf("settle with an id: %+v", r)
	}
	if r := w.settle(withPaymentID(w.pay(2_000, 600), idExtension(id))); r.Success || r.ErrorReason != ReasonPaymentIdentifierConflict {
		t.Fatalf("another authorization under the id: %+v", r)
	}
	if got := w.usdcOf(w.payee); got != 2_000 {
		t.Fatalf("payee holds %d, want 2000", got)
	}
}

// TestPaymentIDConcurrentAuthorizations: eight authorizations settled at
// once under one id: one pays, the others are refused.
func TestPaymentIDConcurrentAuthorizations(t *testing.T) {
	w := newWorld(t)
	w.mine()
	const id = "pay_concurrent_0000000001"
	requests := make([]*x402.Request, 8)
	for i := range requests {
		requests[i] = withPaymentID(w.pay(3_000, 600), idExtension(id))
	}
	var wg sync.WaitGroup
	responses := make([]x402.SettleResponse, len(requests))
	for i := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := w.f.Settle(context.Background(), requests[i])
			if err != nil {
				t.Error(err)
			}
			responses[i] = r
		}()
	}
	wg.Wait()
	paid, refused := 0, 0
	for _, r := range responses {
		switch {
		case r.Success:
			paid++
		case r.ErrorReason == ReasonPaymentIdentifierConflict:
			refused++
		}
	}
	if paid != 1 || refused != 7 {
		t.Fatalf("%d paid, %d refused, want 1 and 7: %+v", paid, refused, responses)
	}
	if got := w.usdcOf(w.payee); got != 3_000 {
		t.Fatalf("payee holds %d, want 3000", got)
	}
}

// TestPaymentIDForgottenWithItsAuthorization: an id's row lives as long as
// its authorization's record (RecordRetention past validBefore).
func TestPaymentIDForgottenWithItsAuthorization(t *testing.T) {
	w := newWorld(t)
	if r := w.verify(withPaymentID(w.pay(1_000, 60), idExtension("pay_bbbbbbbbbbbbbbbbbbbbbbbb"))); !r.IsValid {
		t.Fatalf("verify: %+v", r)
	}
	w.advance(60*time.Second + RecordRetention)
	w.restart()
	if n := w.paymentIDRows(); n != 1 {
		t.Fatalf("%d payment id rows at the retention's end, want 1", n)
	}
	w.advance(2 * time.Second)
	w.restart()
	if n := w.paymentIDRows(); n != 0 {
		t.Fatalf("%d payment id rows past the retention, want 0", n)
	}
	if s := w.f.Supported(); len(s.Extensions) != 1 || s.Extensions[0] != x402.ExtensionPaymentIdentifier {
		t.Fatalf("supported extensions %v, want [%s]", s.Extensions, x402.ExtensionPaymentIdentifier)
	}
}
