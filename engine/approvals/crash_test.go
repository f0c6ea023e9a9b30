package approvals_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/approvals"
)

// terminalWrites counts, per approval, the terminal records the world's
// service writes from now on.
func (w *world) terminalWrites() map[engine.TransferID]int {
	counts := map[engine.TransferID]int{}
	w.step = func(step string, a approvals.Approval) {
		if step == "recorded" && a.State.Terminal() {
			counts[a.ID]++
		}
	}
	return counts
}

// TestCrashBetweenStepsEndsEachApprovalOnce takes a crash image right
// after each durable step of a transition (as kill -9 there would leave
// the disk), reopens it, and checks that the approval ends exactly once,
// with exact balances, and that a second restart changes nothing.
func TestCrashBetweenStepsEndsEachApprovalOnce(t *testing.T) {
	for _, c := range []struct {
		name  string
		step  string
		state approvals.State // of the approval at the step; "" for any
		ends  int             // terminal records written after the restart: 0 if it had ended before the crash
		down  time.Duration   // between the crash and the restart
		act   func(w *world)
		check func(w *world, writes map[engine.TransferID]int)
	}{
		{
			name: "intent written, nothing reserved", ends: 1, step: "intended",
			act: func(w *world) { w.request(request("apr_1", approvals.KindCharge, 1000, approvals.RoleOwner)) },
			check: func(w *world, _ map[engine.TransferID]int) {
				_, err := w.svc.Get("apr_1")
				wantErr(w.t, "Get after the crash", err, approvals.ErrNotFound)
				w.balance("alice", funds, 0, funds)
				w.request(request("apr_1", approvals.KindCharge, 1000, approvals.RoleOwner)) // the retry places it
				w.balance("alice", funds-1000, 1000, funds)
				w.decide("apr_1", owners(false), approvals.StateRejected)
				w.balance("alice", funds, 0, funds)
			},
		},
		{
			name: "reserved, not recorded", ends: 1, step: "held",
			act: func(w *world) { w.request(request("apr_1", approvals.KindCharge, 1000, approvals.RoleOwner)) },
			check: func(w *world, _ map[engine.TransferID]int) {
				w.get("apr_1", approvals.StatePending) // adopted at Open
				a, replayed, err := w.svc.Request(context.Background(), request("apr_1", approvals.KindCharge, 1000, approvals.RoleOwner))
				if err != nil || !replayed || a.State != approvals.StatePending {
					w.t.Fatalf("retry = %s replayed %v, %v; want the PENDING approval", a.State, replayed, err)
				}
				w.balance("alice", funds-1000, 1000, funds)
				w.decide("apr_1", owners(true), approvals.StateExecuted)
				w.balance("alice", funds-1000, 0, funds-1000)
				w.balance("bob", 990, 0, 990)
			},
		},
		{
			name: "reserved, not recorded, down past its expiry", ends: 1, step: "held", down: expiresIn + approvals.ReservationGrace,
			act: func(w *world) { w.request(request("apr_1", approvals.KindCharge, 1000, approvals.RoleOwner)) },
			check: func(w *world, _ map[engine.TransferID]int) {
				a := w.get("apr_1", approvals.StateExpired) // the engine expired its reservation
				if !a.DecidedAt.Equal(a.ExpiresAt) {
					w.t.Fatalf("expired at %v, want %v", a.DecidedAt, a.ExpiresAt)
				}
				again, replayed, err := w.svc.Request(context.Background(), request("apr_1", approvals.KindCharge, 1000, approvals.RoleOwner))
				if err != nil || !replayed || again.State != approvals.StateExpired {
					w.t.Fatalf("retry = %s replayed %v, %v; want the EXPIRED approval", again.State, replayed, err)
				}
				w.balance("alice", funds, 0, funds)
			},
		},
		{
			name: "approved, not executed", ends: 1, step: "recorded", state: approvals.StateApproved,
			act: func(w *world) {
				w.request(request("apr_1", approvals.KindCharge, 1000, approvals.RoleOwner))
				w.decide("apr_1", owners(true), approvals.StateExecuted)
			},
			check: func(w *world, writes map[engine.TransferID]int) {
				w.get("apr_1", approvals.StateExecuted)
				w.balance("alice", funds-1000, 0, funds-1000)
				w.balance("bob", 990, 0, 990)
				w.balance(fees, 10, 0, 10)
			},
		},
		{
			name: "captured, EXECUTED not recorded", ends: 1, step: "executed",
			act: func(w *world) {
				w.request(request("apr_1", approvals.KindCharge, 1000, approvals.RoleOwner))
				w.decide("apr_1", owners(true), approvals.StateExecuted)
			},
			check: func(w *world, _ map[engine.TransferID]int) {
				w.get("apr_1", approvals.StateExecuted)
				w.balance("alice", funds-1000, 0, funds-1000)
				w.balance("bob", 990, 0, 990)
			},
		},
		{
			name: "rejected, not released", ends: 0, step: "recorded", state: approvals.StateRejected,
			act: func(w *world) {
				w.request(request("apr_1", approvals.KindCharge, 1000, approvals.RoleOwner))
				w.decide("apr_1", owners(false), approvals.StateRejected)
			},
			check: func(w *world, _ map[engine.TransferID]int) {
				w.get("apr_1", approvals.StateRejected)
				w.balance("alice", funds, 0, funds)
			},
		},
		{
			name: "expired, not released", ends: 0, step: "recorded", state: approvals.StateExpired,
			act: func(w *world) {
				a := w.request(request("apr_1", approvals.KindHold, 1000, approvals.RoleOwner))
				time.Sleep(time.Until(a.ExpiresAt))
				synctest.Wait()
			},
			check: func(w *world, _ map[engine.TransferID]int) {
				w.get("apr_1", approvals.StateExpired)
				w.balance("alice", funds, 0, funds)
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				var image *vfs.MemFS
				w.step = func(step string, a approvals.Approval) {
					if image == nil && step == c.step && (c.state == "" || a.State == c.state) {
						image = w.mem.CrashClone(vfs.CrashCloneCfg{})
					}
				}
				c.act(w)
				if image == nil {
					t.Fatalf("step %s %s never happened", c.step, c.state)
				}
				w.t = t
				var writes map[engine.TransferID]int
				w.step = nil
				w.close()
				writes = map[engine.TransferID]int{}
				w.step = func(step string, a approvals.Approval) {
					if step == "recorded" && a.State.Terminal() {
						writes[a.ID]++
					}
				}
				time.Sleep(c.down)
				w.open(image)
				c.check(w, writes)
				if writes["apr_1"] != c.ends {
					t.Fatalf("apr_1 ended %d times after the restart, want %d", writes["apr_1"], c.ends)
				}
				if len(w.markers()) != 0 || w.svc.Pending() != 0 {
					t.Fatalf("markers %v, %d in memory after it ended", w.markers(), w.svc.Pending())
				}
				before := w.get("apr_1", "")
				w.verify()
				// A second restart finds nothing left to do.
				writes = w.terminalWrites()
				w.reopen(w.mem.CrashClone(vfs.CrashCloneCfg{}))
				after, err := w.svc.Get("apr_1")
				if err != nil || after.State != before.State || len(writes) != 0 {
					t.Fatalf("after a second restart: %s, %v, terminal writes %v; want %s and none", after.State, err, writes, before.State)
				}
				w.close()
			})
		})
	}
}

// TestRestartWithPendingApprovalsExpiresEachOnceOnTime: a crash image with
// approvals pending, one of two decisions taken, and the service down for
// ten minutes: one whose expiry passed (and its reservation's grace: the
// engine expired it first) expires at Open, stamped with its ExpiresAt;
// one about to expire expires exactly on time; the others wait and
// execute as if nothing happened.
func TestRestartWithPendingApprovalsExpiresEachOnceOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		withExpiry := func(id engine.TransferID, expiry time.Duration, roles ...approvals.Role) approvals.Approval {
			r := request(id, approvals.KindCharge, 1000, roles...)
			r.Policy.ExpiresIn = expiry
			return w.request(r)
		}
		overdue := withExpiry("apr_overdue", time.Minute, approvals.RoleOwner)
		soon := withExpiry("apr_soon", 12*time.Minute, approvals.RoleOwner)
		withExpiry("apr_later", time.Hour, approvals.RoleOwner)
		withExpiry("apr_two", time.Hour, approvals.RoleOwner, approvals.RoleArbiter)
		w.decide("apr_two", arbiters(true), approvals.StatePending)
		image := w.mem.CrashClone(vfs.CrashCloneCfg{})
		w.step = nil
		w.close()
		time.Sleep(10 * time.Minute) // down
		writes := w.terminalWrites()
		w.open(image)
		a := w.get("apr_overdue", approvals.StateExpired)
		if !a.DecidedAt.Equal(overdue.ExpiresAt) {
			t.Fatalf("overdue expired at %v, want %v", a.DecidedAt, overdue.ExpiresAt)
		}
		w.get("apr_soon", approvals.StatePending)
		w.balance("alice", funds-3000, 3000, funds)
		time.Sleep(time.Until(soon.ExpiresAt) - time.Nanosecond)
		synctest.Wait()
		w.get("apr_soon", approvals.StatePending)
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if a := w.get("apr_soon", approvals.StateExpired); !a.DecidedAt.Equal(soon.ExpiresAt) {
			t.Fatalf("soon expired at %v, want %v", a.DecidedAt, soon.ExpiresAt)
		}
		w.balance("alice", funds-2000, 2000, funds)
		w.decide("apr_later", owners(true), approvals.StateExecuted)
		w.decide("apr_two", owners(true), approvals.StateExecuted) // the arbiter's decision survived
		w.balance("alice", funds-2000, 0, funds-2000)
		w.balance("bob", 1980, 0, 1980)
		w.balance(fees, 20, 0, 20)
		for _, id := range []engine.TransferID{"apr_overdue", "apr_soon", "apr_later", "apr_two"} {
			if writes[id] != 1 {
				t.Fatalf("%s ended %d times, want once", id, writes[id])
			}
		}
		if len(w.markers()) != 0 || w.svc.Pending() != 0 || w.svc.Timers() != 0 {
			t.Fatalf("markers %v, %d in memory, %d timers; want none", w.markers(), w.svc.Pending(), w.svc.Timers())
		}
		w.verify()
		w.close()
	})
}
