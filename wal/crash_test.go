package wal

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

const (
	crashAppenders = 8
	crashesPerRun  = 6
	// crashGapEntriesMax bounds how many acknowledgements pass between two
	// crashes.
	crashGapEntriesMax = 400
)

func TestCrashKeepsEveryAcknowledgedEntry(t *testing.T) {
	seed := testSeed(t)
	for _, unsyncedPercent := range []int{0, 50} {
		t.Run(fmt.Sprintf("unsynced=%d%%", unsyncedPercent), func(t *testing.T) {
			crashWhileAppending(t, seed, unsyncedPercent)
		})
	}
}

// crashWhileAppending appends from crashAppenders goroutines and, at random
// moments, takes a crash image of the store; each image must reopen with
// every entry acknowledged before it. The appenders pause while an image is
// checked, so the log stays small.
func crashWhileAppending(t *testing.T, seed uint64, unsyncedPercent int) {
	fs := vfs.NewCrashableMem()
	h := &harness{t: t}
	l := h.open(fs)
	acknowledged := newAcknowledged()
	stop := make(chan struct{})
	var pause sync.RWMutex
	var group sync.WaitGroup
	for appender := range crashAppenders {
		group.Go(func() {
			random := rand.New(rand.NewPCG(seed, uint64(appender)))
			for sequence := 0; ; sequence++ {
				select {
				case <-stop:
					return
				default:
				}
				pause.RLock()
				entry := newEntry(random, appender, sequence)
				l.Append(entry)
				a := wait(t, entry)
				pause.RUnlock()
				if a.err != nil {
					t.Errorf("append = %v", a.err)
					return
				}
				acknowledged.add(t, a.position, entry)
			}
		})
	}
	random := rand.New(rand.NewPCG(seed, uint64(unsyncedPercent)))
	for crash := range crashesPerRun {
		if !waitDurable(t, l, l.Durable()+1+uint64(random.IntN(crashGapEntriesMax))) {
			break
		}
		want := acknowledged.copy()
		image := fs.CrashClone(vfs.CrashCloneCfg{
			UnsyncedDataPercent: unsyncedPercent,
			RNG:                 rand.New(rand.NewPCG(seed, uint64(crash))),
		})
		pause.Lock()
		checkRecovery(t, image, want)
		pause.Unlock()
	}
	close(stop)
	group.Wait()
	closeLog(t, l)
}

// waitDurable waits, through Notify, until Durable() >= position; false
// (and the test failed) if the log failed or closed first.
func waitDurable(t *testing.T, l *Log, position uint64) bool {
	t.Helper()
	for {
		changed := l.Notify()
		if l.Durable() >= position {
			return true
		}
		select {
		case <-changed:
		case <-time.After(ackTimeout):
			t.Errorf("Durable() = %d, waited for %d", l.Durable(), position)
			return false
		}
		if err := l.Err(); err != nil {
			t.Errorf("log failed: %v", err)
			return false
		}
	}
}

// checkRecovery opens the crash image fs and checks it holds every entry of
// want, dense positions, and appends at the next position.
func checkRecovery(t *testing.T, fs vfs.FS, want map[uint64]*Entry) {
	t.Helper()
	h := &harness{t: t}
	l := h.open(fs)
	defer closeLog(t, l)
	var wantDurable uint64
	for position := range want {
		wantDurable = max(wantDurable, position)
	}
	if l.Durable() < wantDurable {
		t.Fatalf("recovered Durable() = %d, want >= %d (acknowledged)", l.Durable(), wantDurable)
	}
	checkContains(t, l, want) // Read checks the positions are dense
	next := newEntry(rand.New(rand.NewPCG(1, 1)), -1, 0)
	durable := l.Durable()
	l.Append(next)
	if a := wait(t, next); a.err != nil || a.position != durable+1 {
		t.Fatalf("append after recovery at %d, %v, want %d", a.position, a.err, durable+1)
	}
}
