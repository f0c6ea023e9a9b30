package approvals_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/approvals"
)

const (
	testLedger = "test:USDC"
	feeBps     = 100 // 1%
	funds      = 100_000
	agentKey   = "key_agent"
	arbiterKey = "key_arbiter"
	owner      = "usr_1"
	expiresIn  = time.Hour
)

var fees = engine.FeesAccount(testLedger)

// world is an engine with alice (funds credited) paying bob, and an
// approvals service on it; reopen starts both again on a crash image.
type world struct {
	t    *testing.T
	mem  *vfs.MemFS
	eng  *engine.Engine
	svc  *approvals.Service
	step func(string, approvals.Approval)
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, mem: vfs.NewCrashableMem()}
	w.open(w.mem)
	ctx := context.Background()
	for _, id := range []engine.AccountID{"alice", "bob"} {
		if err := w.eng.CreateAccount(ctx, engine.Account{ID: id, Ledger: testLedger}); err != nil {
			t.Fatalf("CreateAccount(%s) = %v", id, err)
		}
	}
	if _, err := w.eng.Credit(ctx, "dep-1", "alice", engine.NewAmount(funds)); err != nil {
		t.Fatalf("Credit = %v", err)
	}
	return w
}

func (w *world) open(fs *vfs.MemFS) {
	w.t.Helper()
	w.mem = fs
	eng, err := engine.Open(engine.Options{Dir: "/data", FS: fs, FeeBps: feeBps})
	if err != nil {
		w.t.Fatalf("engine.Open = %v", err)
	}
	w.eng = eng
	options := approvals.WithStep(approvals.Options{}, func(step string, a approvals.Approval) {
		if w.step != nil {
			w.step(step, a)
		}
	})
	svc, err := approvals.Open(eng, options)
	if err != nil {
		w.t.Fatalf("approvals.Open = %v", err)
	}
	w.svc = svc
}

func (w *world) close() {
	w.t.Helper()
	if err := w.svc.Close(); err != nil {
		w.t.Fatalf("service Close = %v", err)
	}
	if err := w.eng.Close(); err != nil {
		w.t.Fatalf("engine Close = %v", err)
	}
}

// reopen closes the world and opens it again on image (a crash image of
// its file system taken earlier), as a restart after kill -9 there.
func (w *world) reopen(image *vfs.MemFS) {
	w.t.Helper()
	w.close()
	w.open(image)
}

func request(id engine.TransferID, kind approvals.Kind, amount uint64, roles ...approvals.Role) approvals.Request {
	r := approvals.Request{
		ID: id, Kind: kind, KeyID: agentKey, Owner: owner, From: "alice", To: "bob", Amount: engine.NewAmount(amount),
		Memo: `{"order":"42"}`, Budget: engine.Budget{Spender: agentKey, Total: engine.NewAmount(funds)},
		Policy: approvals.Policy{Above: engine.NewAmount(100), Approvers: roles, ExpiresIn: expiresIn},
	}
	if kind == approvals.KindHold {
		r.HoldTimeout = 10 * time.Minute
	}
	return r
}

func (w *world) request(r approvals.Request) approvals.Approval {
	w.t.Helper()
	a, replayed, err := w.svc.Request(context.Background(), r)
	if err != nil || replayed || a.State != approvals.StatePending {
		w.t.Fatalf("Request(%s) = %s replayed %v, %v; want PENDING, not replayed", r.ID, a.State, replayed, err)
	}
	return a
}

func owners(approved bool) approvals.Decision {
	return approvals.Decision{Role: approvals.RoleOwner, By: owner, Approved: approved}
}

func arbiters(approved bool) approvals.Decision {
	return approvals.Decision{Role: approvals.RoleArbiter, By: arbiterKey, Approved: approved}
}

func (w *world) decide(id engine.TransferID, d approvals.Decision, want approvals.State) approvals.Approval {
	w.t.Helper()
	a, err := w.svc.Decide(context.Background(), id, d)
	if err != nil || a.State != want {
		w.t.Fatalf("Decide(%s, %s %v) = %s, %v; want %s", id, d.Role, d.Approved, a.State, err, want)
	}
	return a
}

func (w *world) get(id engine.TransferID, want approvals.State) approvals.Approval {
	w.t.Helper()
	a, err := w.svc.Get(id)
	if err != nil || (want != "" && a.State != want) {
		w.t.Fatalf("Get(%s) = %s, %v; want %s", id, a.State, err, want)
	}
	return a
}

// balance checks an account's available, reserved and posted amounts.
func (w *world) balance(account engine.AccountID, available, reserved, posted uint64) {
	w.t.Helper()
	b, err := w.eng.Balance(context.Background(), account)
	if err != nil {
		w.t.Fatalf("Balance(%s) = %v", account, err)
	}
	if b.Available != engine.NewAmount(available) || b.Reserved != engine.NewAmount(reserved) || b.Posted != engine.NewAmount(posted) {
		w.t.Fatalf("Balance(%s) = available %s reserved %s posted %s, want %d %d %d",
			account, b.Available, b.Reserved, b.Posted, available, reserved, posted)
	}
}

func (w *world) verify() {
	w.t.Helper()
	if err := w.eng.Verify(context.Background()); err != nil {
		w.t.Fatalf("Verify = %v", err)
	}
}

// markers returns the ids whose work a restart would resume.
func (w *world) markers() []string {
	w.t.Helper()
	var ids []string
	err := w.eng.ScanRows([]byte(approvals.MarkerPrefix), func(key, _ []byte) error {
		ids = append(ids, string(key[len(approvals.MarkerPrefix):]))
		return nil
	})
	if err != nil {
		w.t.Fatalf("ScanRows = %v", err)
	}
	return ids
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s = %v, want %v", what, err, want)
	}
}

func TestAboveTheThresholdReservesAndChargesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		defer w.close()
		r := request("apr_1", approvals.KindCharge, 1000, approvals.RoleOwner)
		a := w.request(r)
		if !a.ExpiresAt.Equal(a.CreatedAt.Add(expiresIn)) || a.TransferID != "" || len(a.Decisions) != 0 ||
			len(a.Required) != 1 || a.Required[0] != approvals.RoleOwner || a.Memo != r.Memo {
			t.Fatalf("Request = %+v", a)
		}
		w.balance("alice", funds-1000, 1000, funds)
		w.balance("bob", 0, 0, 0)
		spent, err := w.eng.Spent(context.Background(), "alice", agentKey)
		if err != nil || spent.Total != engine.NewAmount(1000) {
			t.Fatalf("Spent = %v %v, want the reservation, 1000, against the key's budget", spent.Total, err)
		}
		// An idempotent retry returns the same approval; other content
		// under its id is a conflict.
		again, replayed, err := w.svc.Request(context.Background(), r)
		if err != nil || !replayed || again.ID != a.ID || !again.CreatedAt.Equal(a.CreatedAt) {
			t.Fatalf("Request again = %+v replayed %v, %v", again, replayed, err)
		}
		other := r
		other.Amount = engine.NewAmount(1001)
		_, _, err = w.svc.Request(context.Background(), other)
		wantErr(t, "Request(same id, other amount)", err, approvals.ErrIDConflict)
		w.balance("alice", funds-1000, 1000, funds)
		w.verify()
	})
}

func TestApproveExecutesOnceWithExactBalancesAndFees(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		defer w.close()
		r := request("apr_1", approvals.KindCharge, 1000, approvals.RoleOwner)
		w.request(r)
		a := w.decide("apr_1", owners(true), approvals.StateExecuted)
		if a.TransferID != "apr_1" || len(a.Decisions) != 1 || !a.Decisions[0].Approved || a.DecidedAt.IsZero() {
			t.Fatalf("Decide = %+v", a)
		}
		w.balance("alice", funds-1000, 0, funds-1000)
		w.balance("bob", 990, 0, 990)
		w.balance(fees, 10, 0, 10)
		tr, err := w.eng.Transfer(context.Background(), a.TransferID)
		if err != nil || tr.State != engine.HoldCaptured || tr.Captured != engine.NewAmount(1000) || tr.Fee != engine.NewAmount(10) ||
			tr.Memo != r.Memo || tr.Spender != agentKey {
			t.Fatalf("Transfer = %+v, %v; want captured 1000, fee 10, the memo and the key", tr, err)
		}
		_, err = w.svc.Decide(context.Background(), "apr_1", owners(true))
		wantErr(t, "Decide again", err, approvals.ErrDecided)
		_, err = w.svc.Decide(context.Background(), "apr_1", owners(false))
		wantErr(t, "Decide(reject) after executed", err, approvals.ErrDecided)
		// The retry of the original request still returns the approval.
		again, replayed, err := w.svc.Request(context.Background(), r)
		if err != nil || !replayed || again.State != approvals.StateExecuted {
			t.Fatalf("Request again = %s replayed %v, %v", again.State, replayed, err)
		}
		w.balance("alice", funds-1000, 0, funds-1000)
		if m := w.markers(); len(m) != 0 || w.svc.Pending() != 0 || w.svc.Timers() != 0 {
			t.Fatalf("markers %v, %d in memory, %d timers; want none", m, w.svc.Pending(), w.svc.Timers())
		}
		w.verify()
	})
}

func TestRejectReleasesExactly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		defer w.close()
		w.request(request("apr_1", approvals.KindCharge, 1000, approvals.RoleOwner, approvals.RoleArbiter))
		d := arbiters(false)
		d.Reason = "not in the plan"
		a := w.decide("apr_1", d, approvals.StateRejected)
		if a.Decisions[0].Reason != d.Reason || a.TransferID != "" {
			t.Fatalf("Decide = %+v", a)
		}
		w.balance("alice", funds, 0, funds)
		w.balance("bob", 0, 0, 0)
		if tr, err := w.eng.Transfer(context.Background(), "apr_1"); err != nil || tr.State != engine.HoldVoided {
			t.Fatalf("reservation = %s, %v; want voided", tr.State, err)
		}
		_, err := w.svc.Decide(context.Background(), "apr_1", owners(true))
		wantErr(t, "Decide(owner) after rejected", err, approvals.ErrNotPending)
		_, err = w.svc.Decide(context.Background(), "apr_1", arbiters(false))
		wantErr(t, "Decide(arbiter) again", err, approvals.ErrDecided)
		if m := w.markers(); len(m) != 0 {
			t.Fatalf("markers %v, want none", m)
		}
		w.verify()
	})
}

// TestExpiryReleasesAtExpiresAtExactly runs in a synctest bubble: nothing
// calls the service, its expirer alone expires the approval, not one
// nanosecond early.
func TestExpiryReleasesAtExpiresAtExactly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		defer w.close()
		a := w.request(request("apr_1", approvals.KindCharge, 1000, approvals.RoleOwner))
		time.Sleep(time.Until(a.ExpiresAt) - time.Nanosecond)
		synctest.Wait()
		w.get("apr_1", approvals.StatePending)
		w.balance("alice", funds-1000, 1000, funds)
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		expired := w.get("apr_1", approvals.StateExpired)
		if !expired.DecidedAt.Equal(a.ExpiresAt) {
			t.Fatalf("expired at %v, want %v", expired.DecidedAt, a.ExpiresAt)
		}
		w.balance("alice", funds, 0, funds)
		_, err := w.svc.Decide(context.Background(), "apr_1", owners(true))
		wantErr(t, "Decide after expiry", err, approvals.ErrNotPending)
	})
}

func TestDecisionAtExpiryExpiresInstead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		defer w.close()
		a := w.request(request("apr_1", approvals.KindCharge, 1000, approvals.RoleOwner))
		time.Sleep(time.Until(a.ExpiresAt))
		// The expirer and this Decide race; both see it due: EXPIRED, once.
		got, err := w.svc.Decide(context.Background(), "apr_1", owners(true))
		wantErr(t, "Decide at ExpiresAt", err, approvals.ErrNotPending)
		if got.State != approvals.StateExpired || !got.DecidedAt.Equal(a.ExpiresAt) {
			t.Fatalf("Decide at ExpiresAt returned %s decided %v", got.State, got.DecidedAt)
		}
		synctest.Wait()
		w.balance("alice", funds, 0, funds)
		w.balance("bob", 0, 0, 0)
	})
}

func TestTwoRequiredRolesExecuteOnlyAfterBoth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		defer w.close()
		w.request(request("apr_1", approvals.KindCharge, 2000, approvals.RoleArbiter, approvals.RoleOwner))
		a := w.decide("apr_1", arbiters(true), approvals.StatePending)
		if len(a.Required) != 2 || a.Required[0] != approvals.RoleOwner || len(a.Decisions) != 1 {
			t.Fatalf("after the arbiter = %+v", a)
		}
		w.balance("alice", funds-2000, 2000, funds)
		w.balance("bob", 0, 0, 0)
		_, err := w.svc.Decide(context.Background(), "apr_1", arbiters(true))
		wantErr(t, "Decide(arbiter) twice", err, approvals.ErrDecided)
		a = w.decide("apr_1", owners(true), approvals.StateExecuted)
		if len(a.Decisions) != 2 {
			t.Fatalf("decisions = %+v", a.Decisions)
		}
		w.balance("alice", funds-2000, 0, funds-2000)
		w.balance("bob", 1980, 0, 1980)
		w.balance(fees, 20, 0, 20)
		w.verify()
	})
}

func TestDecisionsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		defer w.close()
		ctx := context.Background()
		w.request(request("apr_1", approvals.KindCharge, 1000, approvals.RoleOwner))
		w.request(request("apr_2", approvals.KindCharge, 1000, approvals.RoleOwner, approvals.RoleArbiter))
		_, err := w.svc.Decide(ctx, "apr_1", arbiters(true))
		wantErr(t, "Decide(arbiter, not required)", err, approvals.ErrNotRequired)
		_, err = w.svc.Decide(ctx, "apr_2", approvals.Decision{Role: approvals.RoleArbiter, By: agentKey, Approved: true})
		wantErr(t, "Decide(by the requesting key)", err, approvals.ErrOwnKey)
		long := owners(true)
		long.Reason = strings.Repeat("x", approvals.ReasonBytesMax+1)
		_, err = w.svc.Decide(ctx, "apr_1", long)
		wantErr(t, "Decide(reason too long)", err, approvals.ErrInvalid)
		_, err = w.svc.Decide(ctx, "apr_1", approvals.Decision{Role: "agent", By: owner})
		wantErr(t, "Decide(unknown role)", err, approvals.ErrInvalid)
		_, err = w.svc.Decide(ctx, "apr_9", owners(true))
		wantErr(t, "Decide(unknown id)", err, approvals.ErrNotFound)
		w.get("apr_1", approvals.StatePending)
		w.get("apr_2", approvals.StatePending)
		w.balance("alice", funds-2000, 2000, funds)
	})
}

func TestEngineRefusalRecordsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		defer w.close()
		ctx := context.Background()
		_, _, err := w.svc.Request(ctx, request("apr_1", approvals.KindCharge, funds+1, approvals.RoleOwner))
		wantErr(t, "Request(above the balance)", err, engine.ErrInsufficientFunds)
		budgeted := request("apr_2", approvals.KindCharge, 1000, approvals.RoleOwner)
		budgeted.Budget.PerDebit = engine.NewAmount(999)
		_, _, err = w.svc.Request(ctx, budgeted)
		wantErr(t, "Request(above the key's budget)", err, engine.ErrBudgetExceeded)
		nobody := request("apr_3", approvals.KindCharge, 1000, approvals.RoleOwner)
		nobody.To = "carol"
		_, _, err = w.svc.Request(ctx, nobody)
		wantErr(t, "Request(unknown payee)", err, engine.ErrNotFound)
		for _, id := range []engine.TransferID{"apr_1", "apr_2", "apr_3"} {
			_, err := w.svc.Get(id)
			wantErr(t, fmt.Sprintf("Get(%s)", id), err, approvals.ErrNotFound)
		}
		if m := w.markers(); len(m) != 0 || w.svc.Pending() != 0 {
			t.Fatalf("markers %v, %d in memory; want none", m, w.svc.Pending())
		}
		w.balance("alice", funds, 0, funds)
		// Nothing was kept: the same id with funds enough is a new approval.
		ok := request("apr_1", approvals.KindCharge, 1000, approvals.RoleOwner)
		w.request(ok)
	})
}

func TestInvalidRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		defer w.close()
		for name, mutate := range map[string]func(*approvals.Request){
			"no prefix":          func(r *approvals.Request) { r.ID = "chg_1" },
			"kind":               func(r *approvals.Request) { r.Kind = "refund" },
			"no key":             func(r *approvals.Request) { r.KeyID = "" },
			"no owner":           func(r *approvals.Request) { r.Owner = "" },
			"zero amount":        func(r *approvals.Request) { r.Amount = engine.Amount{} },
			"no approvers":       func(r *approvals.Request) { r.Policy.Approvers = nil },
			"approver twice":     func(r *approvals.Request) { r.Policy.Approvers = []approvals.Role{"owner", "owner"} },
			"unknown approver":   func(r *approvals.Request) { r.Policy.Approvers = []approvals.Role{"agent"} },
			"expiry too short":   func(r *approvals.Request) { r.Policy.ExpiresIn = approvals.ExpiresInMin - 1 },
			"expiry too long":    func(r *approvals.Request) { r.Policy.ExpiresIn = approvals.ExpiresInMax + 1 },
			"charge hold timout": func(r *approvals.Request) { r.HoldTimeout = time.Minute },
			"hold no timeout":    func(r *approvals.Request) { r.Kind = approvals.KindHold },
		} {
			r := request("apr_1", approvals.KindCharge, 1000, approvals.RoleOwner)
			mutate(&r)
			_, _, err := w.svc.Request(context.Background(), r)
			wantErr(t, "Request("+name+")", err, approvals.ErrInvalid)
		}
		w.balance("alice", funds, 0, funds)
	})
}

func TestPendingLimitPerKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		defer w.close()
		for i := range approvals.PendingPerKeyMax {
			w.request(request(engine.TransferID(fmt.Sprintf("apr_%d", i)), approvals.KindCharge, 1, approvals.RoleOwner))
		}
		_, _, err := w.svc.Request(context.Background(), request("apr_over", approvals.KindCharge, 1, approvals.RoleOwner))
		wantErr(t, "Request past PendingPerKeyMax", err, approvals.ErrLimit)
		w.balance("alice", funds-approvals.PendingPerKeyMax, approvals.PendingPerKeyMax, funds)
		// A retry of a pending one is no new approval; a decided one frees a slot.
		if _, replayed, err := w.svc.Request(context.Background(), request("apr_0", approvals.KindCharge, 1, approvals.RoleOwner)); err != nil || !replayed {
			t.Fatalf("Request(apr_0) again = replayed %v, %v", replayed, err)
		}
		w.decide("apr_0", owners(false), approvals.StateRejected)
		w.request(request("apr_over", approvals.KindCharge, 1, approvals.RoleOwner))
		other := request("apr_other", approvals.KindCharge, 1, approvals.RoleOwner)
		other.KeyID = "key_other"
		w.request(other)
	})
}

// TestHoldBecomesTheClientsHold: an approved hold is the reservation,
// open, to capture or void as the client's hold.
func TestHoldBecomesTheClientsHold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		defer w.close()
		ctx := context.Background()
		r := request("apr_1", approvals.KindHold, 3000, approvals.RoleOwner)
		a := w.request(r)
		a = w.decide("apr_1", owners(true), approvals.StateExecuted)
		if a.TransferID != "apr_1" {
			t.Fatalf("TransferID = %q", a.TransferID)
		}
		tr, err := w.eng.Transfer(ctx, "apr_1")
		if want := a.CreatedAt.Add(expiresIn + r.HoldTimeout); err != nil || tr.State != engine.HoldOpen || !tr.Deadline.Equal(want) {
			t.Fatalf("hold = %s deadline %v, %v; want open until %v", tr.State, tr.Deadline, err, want)
		}
		w.balance("alice", funds-3000, 3000, funds)
		if _, err := w.eng.Capture(ctx, "apr_1", engine.NewAmount(2000)); err != nil {
			t.Fatalf("Capture = %v", err)
		}
		w.balance("alice", funds-2000, 0, funds-2000)
		w.balance("bob", 1980, 0, 1980)
		// Expiry no longer applies to it.
		time.Sleep(expiresIn + time.Minute)
		synctest.Wait()
		w.get("apr_1", approvals.StateExecuted)
		w.verify()
	})
}

// TestConcurrentDecisionsSettleToOneOutcome races the owner's and the
// arbiter's decisions (each sent twice) on many approvals: each ends
// exactly once, EXECUTED only if both approved, and the money agrees.
func TestConcurrentDecisionsSettleToOneOutcome(t *testing.T) {
	w := newWorld(t)
	defer w.close()
	const n = 40
	for i := range n {
		w.request(request(engine.TransferID(fmt.Sprintf("apr_%d", i)), approvals.KindCharge, 100, approvals.RoleOwner, approvals.RoleArbiter))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := map[string]int{}
	for i := range n {
		id := engine.TransferID(fmt.Sprintf("apr_%d", i))
		for _, d := range []approvals.Decision{owners(true), arbiters(i%2 == 0), owners(true), arbiters(i%3 == 0)} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := w.svc.Decide(context.Background(), id, d)
				switch {
				case err == nil:
					mu.Lock()
					accepted[string(id)+"/"+string(d.Role)]++
					mu.Unlock()
				case errors.Is(err, approvals.ErrDecided), errors.Is(err, approvals.ErrNotPending):
				default:
					t.Errorf("Decide(%s, %s) = %v", id, d.Role, err)
				}
			}()
		}
	}
	wg.Wait()
	executed := 0
	for i := range n {
		id := engine.TransferID(fmt.Sprintf("apr_%d", i))
		a, err := w.svc.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		decided := accepted[string(id)+"/owner"] + accepted[string(id)+"/arbiter"]
		if accepted[string(id)+"/owner"] > 1 || accepted[string(id)+"/arbiter"] > 1 || decided != len(a.Decisions) {
			t.Fatalf("%s: %d owner and %d arbiter decisions accepted, %d recorded", id, accepted[string(id)+"/owner"],
				accepted[string(id)+"/arbiter"], len(a.Decisions))
		}
		allApproved := len(a.Decisions) == 2 && a.Decisions[0].Approved && a.Decisions[1].Approved
		switch {
		case a.State == approvals.StateExecuted && allApproved:
			executed++
		case a.State == approvals.StateRejected && !allApproved:
		default:
			t.Fatalf("%s ended %s with decisions %+v", id, a.State, a.Decisions)
		}
	}
	w.balance("alice", funds-uint64(executed)*100, 0, funds-uint64(executed)*100)
	w.balance("bob", uint64(executed)*99, 0, uint64(executed)*99)
	w.balance(fees, uint64(executed), 0, uint64(executed))
	if w.svc.Pending() != 0 || w.svc.Timers() != 0 || len(w.markers()) != 0 {
		t.Fatalf("%d in memory, %d timers, markers %v: want none", w.svc.Pending(), w.svc.Timers(), w.markers())
	}
	w.verify()
}

func TestPendingLimitPerAccount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		defer w.close()
		for i := range approvals.PendingPerAccountMax {
			r := request(engine.TransferID(fmt.Sprintf("apr_%d", i)), approvals.KindCharge, 1, approvals.RoleOwner)
			r.KeyID = fmt.Sprintf("key_%d", i/approvals.PendingPerKeyMax) // each key within its own limit
			w.request(r)
		}
		over := request("apr_over", approvals.KindCharge, 1, approvals.RoleOwner)
		over.KeyID = "key_fresh"
		_, _, err := w.svc.Request(context.Background(), over)
		wantErr(t, "Request past PendingPerAccountMax", err, approvals.ErrLimit)
		w.balance("alice", funds-approvals.PendingPerAccountMax, approvals.PendingPerAccountMax, funds)
		// A restart counts them again.
		w.reopen(w.mem.CrashClone(vfs.CrashCloneCfg{}))
		_, _, err = w.svc.Request(context.Background(), over)
		wantErr(t, "Request past PendingPerAccountMax after a restart", err, approvals.ErrLimit)
		if w.svc.Pending() != approvals.PendingPerAccountMax || w.svc.Timers() != approvals.PendingPerAccountMax {
			t.Fatalf("%d in memory, %d timers after a restart; want %d", w.svc.Pending(), w.svc.Timers(), approvals.PendingPerAccountMax)
		}
	})
}

// TestConcurrentRetriesReserveOnce sends one request many times at once,
// as retries racing: one approval, one reservation, the others replayed.
func TestConcurrentRetriesReserveOnce(t *testing.T) {
	w := newWorld(t)
	defer w.close()
	r := request("apr_1", approvals.KindCharge, 1000, approvals.RoleOwner)
	var wg sync.WaitGroup
	var mu sync.Mutex
	fresh := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, replayed, err := w.svc.Request(context.Background(), r)
			if err != nil || a.State != approvals.StatePending {
				t.Errorf("Request = %s, %v", a.State, err)
				return
			}
			if !replayed {
				mu.Lock()
				fresh++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if fresh != 1 {
		t.Fatalf("%d requests created the approval, want 1", fresh)
	}
	w.balance("alice", funds-1000, 1000, funds)
	w.decide("apr_1", owners(true), approvals.StateExecuted)
	w.balance("bob", 990, 0, 990)
}
