package httpapi

import (
	"context"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
)

// TestHTTPHoldsExpireWhileTheServerIsDown places holds over HTTP on a server
// process, kills it with SIGKILL, and restarts it with its clock two minutes
// on: past the deadlines of two holds, which passed while no server ran.
// The restarted server expires them by itself (its log grows by exactly
// their two expiries before any request touches the payer), GET shows them
// EXPIRED and the others as they were left, the balances are exact, and
// the engine, opened here on the directory with the wall clock (before
// those deadlines), finds the expiries in the log and its invariants whole.
func TestHTTPHoldsExpireWhileTheServerIsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns server processes")
	}
	const ahead = 2 * time.Minute
	dir := t.TempDir()
	child := startCrashChild(t, dir)
	ts := &testServer{t: t, url: child.url}
	m := ts.market("10000")
	expiring := []map[string]any{ts.placeHold(m, m.key, "1000", 60), ts.placeHold(m, m.key, "1500", 90)}
	open := ts.placeHold(m, m.key, "2000", 86400)
	captured := ts.placeHold(m, m.key, "700", 3600)
	expect(t, ts.do("POST", "/v1/holds/"+captured["id"].(string)+"/capture", m.supplierKey, map[string]string{"amount": "500"}), 200, "", "")
	voided := ts.placeHold(m, m.key, "300", 3600)
	expect(t, ts.do("POST", "/v1/holds/"+voided["id"].(string)+"/void", m.key, nil), 200, "", "")
	ts.wantBalance(m.key, "5000", "4500")
	before := expect(t, ts.do("GET", "/v1/status", "", nil), 200, "", "")["position"].(float64)

	child.kill() // SIGKILL
	client.CloseIdleConnections()
	child = startCrashChildAhead(t, dir, ahead)
	ts.url = child.url

	// The sweeper alone logs the two expiries: wait for them without a
	// request that would expire them on the payer's account.
	var position float64
	for waited := time.Duration(0); ; waited += 5 * time.Millisecond {
		position = expect(t, ts.do("GET", "/v1/status", "", nil), 200, "", "")["position"].(float64)
		if position >= before+2 || waited > 10*time.Second {
			break
		}
		time.Sleep(5 * time.Millisecond) // a process on the wall clock: nothing to fake
	}
	if position != before+2 {
		t.Fatalf("log position after the restart = %v, want %v: the two expiries, logged by the server itself", position, before+2)
	}

	for _, h := range expiring {
		got := expect(t, ts.do("GET", "/v1/holds/"+h["id"].(string), m.key, nil), 200, "", "")
		wantHold(t, got, "EXPIRED", h["amount"].(string), "0", "0", "0")
		if closed, deadline := holdTime(t, got, "closedAt"), holdTime(t, h, "expiresAt"); closed.Before(deadline) {
			t.Fatalf("hold %v closed at %v, before its deadline %v", h["id"], closed, deadline)
		}
		expect(t, ts.do("POST", "/v1/holds/"+h["id"].(string)+"/capture", m.key, nil), 409, "conflict_error", "invalid_state")
	}
	wantHold(t, expect(t, ts.do("GET", "/v1/holds/"+open["id"].(string), m.key, nil), 200, "", ""), "PENDING", "2000", "0", "0", "0")
	wantHold(t, expect(t, ts.do("GET", "/v1/holds/"+captured["id"].(string), m.key, nil), 200, "", ""), "CAPTURED", "700", "500", "5", "495")
	wantHold(t, expect(t, ts.do("GET", "/v1/holds/"+voided["id"].(string), m.key, nil), 200, "", ""), "VOIDED", "300", "0", "0", "0")
	ts.wantBalance(m.key, "7500", "2000")
	ts.wantBalance(m.supplierKey, "495", "0")
	child.kill()

	eng, err := engine.Open(engine.Options{Dir: dir, FeeBps: httpCrashFeeBps})
	if err != nil {
		t.Fatalf("engine.Open after the kills: %v", err)
	}
	defer eng.Close()
	ctx := context.Background()
	for _, h := range expiring {
		tr, err := eng.Transfer(ctx, engine.TransferID(h["id"].(string)))
		if err != nil || tr.State != engine.HoldExpired || time.Now().After(tr.Deadline) {
			t.Fatalf("engine: hold %v = %v %v (deadline %v), want expired in the log before its deadline on the wall clock", h["id"], tr.State, err, tr.Deadline)
		}
	}
	if tr, err := eng.Transfer(ctx, engine.TransferID(open["id"].(string))); err != nil || tr.State != engine.HoldOpen {
		t.Fatalf("engine: open hold = %v %v, want open", tr.State, err)
	}
	b, err := eng.Balance(ctx, engine.AccountID(m.payer))
	if err != nil || b.Available != engine.NewAmount(7500) || b.Reserved != engine.NewAmount(2000) {
		t.Fatalf("engine: payer balance = %+v %v, want 7500 available, 2000 reserved", b, err)
	}
	if err := eng.Verify(ctx); err != nil {
		t.Fatalf("engine.Verify: %v", err)
	}
}
