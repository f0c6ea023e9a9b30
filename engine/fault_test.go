package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/tollway/tollway/engine"
)

// walFault fails every write and sync of Pebble's WAL files once armed.
type walFault struct{ armed atomic.Bool }

func (f *walFault) MaybeError(op errorfs.Op) error {
	if !f.armed.Load() || !strings.HasSuffix(op.Path, ".log") {
		return nil
	}
	switch op.Kind {
	case errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
		return errorfs.ErrInjected
	}
	return nil
}

func (f *walFault) String() string { return "wal-fault" }

// TestFailedFsyncFailsClosedAndLosesNothingAcknowledged injects write and
// fsync failures into the log under concurrent charges: from then on every
// call returns ErrUnavailable, and a reopen (from what was really synced)
// holds every acknowledged charge.
func TestFailedFsyncFailsClosedAndLosesNothingAcknowledged(t *testing.T) {
	ctx := context.Background()
	mem := vfs.NewCrashableMem()
	fault := &walFault{}
	options := engine.Options{Dir: "/tollway", FS: errorfs.Wrap(mem, fault)}
	eng, err := engine.Open(options)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, eng, "alice", "bob")
	mustCredit(t, eng, "dep-1", "alice", 1_000_000)

	var mu sync.Mutex
	var acked []engine.TransferID
	unavailable := atomic.Int64{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := engine.TransferID(fmt.Sprintf("w%d-%d", w, i))
				_, err := eng.Charge(ctx, engine.Charge{ID: id, From: "alice", To: "bob", Amount: engine.NewAmount(1)})
				switch {
				case err == nil:
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				case errors.Is(err, engine.ErrUnavailable):
					unavailable.Add(1)
				default:
					t.Errorf("Charge = %v", err)
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	fault.armed.Store(true)
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if unavailable.Load() == 0 {
		t.Fatal("no call reported ErrUnavailable after the log failed")
	}
	ackedBefore := len(acked)
	// Every later call fails closed, reads included.
	_, err = eng.Charge(ctx, engine.Charge{ID: "after", From: "alice", To: "bob", Amount: engine.NewAmount(1)})
	wantErr(t, "Charge after failure", err, engine.ErrUnavailable)
	_, err = eng.Balance(ctx, "alice")
	wantErr(t, "Balance after failure", err, engine.ErrUnavailable)
	closed := make(chan error, 1)
	go func() { closed <- eng.Close() }()
	select {
	case err := <-closed:
		if err == nil {
			t.Fatal("Close of a failed engine = nil, want the failure")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung after a failed fsync")
	}

	// What survives is exactly what was synced: reopen a crash clone.
	eng = openTest(t, engine.Options{Dir: "/tollway", FS: mem.CrashClone(vfs.CrashCloneCfg{})})
	for _, id := range acked {
		if _, err := eng.Transfer(ctx, id); err != nil {
			t.Fatalf("acknowledged %s lost: %v", id, err)
		}
	}
	bal, err := eng.Balance(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	_, spent := engine.NewAmount(1_000_000).Parts()
	_, left := bal.Available.Parts()
	if present := spent - left; present < uint64(ackedBefore) {
		t.Fatalf("alice spent %d after reopen, but %d charges were acknowledged", present, ackedBefore)
	}
	if err := eng.Verify(ctx); err != nil {
		t.Fatalf("Verify = %v", err)
	}
	t.Logf("%d acknowledged before the fault, %d calls failed closed", ackedBefore, unavailable.Load())
}
