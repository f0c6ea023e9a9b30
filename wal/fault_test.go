package wal

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

const faultAppenders = 8

func TestFailedWALWriteOrSyncFailsClosed(t *testing.T) {
	for _, test := range []struct {
		name  string
		kinds []errorfs.OpKind
	}{
		{"write", []errorfs.OpKind{errorfs.OpFileWrite, errorfs.OpFileWriteAt}},
		{"sync", []errorfs.OpKind{errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo}},
	} {
		t.Run(test.name, func(t *testing.T) {
			failClosed(t, test.kinds)
		})
	}
}

// failClosed appends from faultAppenders goroutines, then makes every given
// operation on Pebble's WAL files fail, and checks the log fails closed
// without acknowledging anything that did not reach the disk.
func failClosed(t *testing.T, kinds []errorfs.OpKind) {
	seed := testSeed(t)
	mem := vfs.NewCrashableMem()
	toggle := &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if strings.HasSuffix(op.Path, ".log") && slices.Contains(kinds, op.Kind) {
			return errorfs.ErrInjected
		}
		return nil
	})}
	h := &harness{t: t}
	l := h.open(errorfs.Wrap(mem, toggle))

	acknowledged := newAcknowledged()
	var group sync.WaitGroup
	for appender := range faultAppenders {
		group.Go(func() {
			random := rand.New(rand.NewPCG(seed, uint64(appender)))
			for sequence := 0; ; sequence++ {
				entry := newEntry(random, appender, sequence)
				l.Append(entry)
				a := wait(t, entry)
				if a.err != nil {
					if !errors.Is(a.err, ErrFailed) {
						t.Errorf("append after the fault = %v, want ErrFailed", a.err)
					}
					return
				}
				acknowledged.add(t, a.position, entry)
			}
		})
	}
	if !waitDurable(t, l, 200) {
		t.FailNow()
	}
	toggle.On()
	group.Wait()

	durable := l.Durable()
	if err := l.Err(); !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("Err() = %v, want ErrFailed caused by the injected error", err)
	}
	late := newEntry(rand.New(rand.NewPCG(seed, 99)), 99, 0)
	l.Append(late)
	if a := wait(t, late); !errors.Is(a.err, ErrFailed) {
		t.Fatalf("Append on a failed log = %v, want ErrFailed", a.err)
	}
	if _, err := l.Get([]byte("x")); !errors.Is(err, ErrFailed) {
		t.Fatalf("Get on a failed log = %v, want ErrFailed", err)
	}
	select {
	case <-l.Notify():
	default:
		t.Fatal("Notify not closed on a failed log")
	}
	// The power fails now: only what was synced survives.
	image := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	closeWithin(t, l, ackTimeout)
	if l.Durable() != durable {
		t.Fatalf("Durable() moved from %d to %d after the failure", durable, l.Durable())
	}
	want := acknowledged.copy()
	t.Logf("%d entries acknowledged, durable %d, then the fault", len(want), durable)
	checkRecovery(t, image, want)
	toggle.Off()
	checkRecovery(t, mem, want)
}

// closeWithin closes l and fails if Close takes longer than timeout.
func closeWithin(t *testing.T, l *Log, timeout time.Duration) {
	t.Helper()
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	select {
	case err := <-closed:
		if !errors.Is(err, ErrFailed) {
			t.Fatalf("Close of a failed log = %v, want ErrFailed", err)
		}
	case <-time.After(timeout):
		t.Fatal("Close of a failed log hangs")
	}
}
