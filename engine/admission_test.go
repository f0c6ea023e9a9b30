package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestAdmissionWaitsWhileFullAndWakesOnRelease(t *testing.T) {
	a := newAdmission(3)
	ctx := context.Background()
	two, err := a.acquire(ctx, 2)
	if err != nil || two != 2 {
		t.Fatalf("acquire(2) = %d, %v", two, err)
	}
	one, err := a.acquire(ctx, 1)
	if err != nil || one != 1 {
		t.Fatalf("acquire(1) = %d, %v", one, err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if w, err := a.acquire(short, 1); !errors.Is(err, context.DeadlineExceeded) || w != 0 {
		t.Fatalf("acquire on a full engine = %d, %v; want a deadline error", w, err)
	}
	admitted := make(chan int64)
	go func() {
		w, err := a.acquire(ctx, 2)
		if err != nil {
			t.Error(err)
		}
		admitted <- w
	}()
	a.release(one) // 2 in flight: no room for 2 more yet
	select {
	case w := <-admitted:
		t.Fatalf("admitted %d with only 1 free", w)
	case <-time.After(20 * time.Millisecond):
	}
	a.release(two)
	if w := <-admitted; w != 2 {
		t.Fatalf("admitted %d, want 2", w)
	}
	if got := a.inFlight.Load(); got != 2 {
		t.Fatalf("in flight %d, want 2", got)
	}
}

func TestAdmissionCapsAWeightAboveTheLimit(t *testing.T) {
	a := newAdmission(4)
	w, err := a.acquire(context.Background(), 10)
	if err != nil || w != 4 {
		t.Fatalf("acquire(10) = %d, %v; want the whole limit, 4", w, err)
	}
	a.release(w)
	if got := a.inFlight.Load(); got != 0 {
		t.Fatalf("in flight %d after release, want 0", got)
	}
}

// TestAdmissionNeverExceedsItsLimit has many goroutines take and give back
// random weights: the weight held never exceeds the limit, and nobody is
// left waiting with room free.
func TestAdmissionNeverExceedsItsLimit(t *testing.T) {
	const limit, workers, rounds = 8, 32, 2000
	a := newAdmission(limit)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var held, peak atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			random := rand.New(rand.NewPCG(uint64(w), 1))
			for range rounds {
				weight, err := a.acquire(ctx, 1+random.IntN(limit+2))
				if err != nil {
					t.Error(err)
					return
				}
				now := held.Add(weight)
				for {
					p := peak.Load()
					if now <= p || peak.CompareAndSwap(p, now) {
						break
					}
				}
				held.Add(-weight)
				a.release(weight)
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > limit {
		t.Fatalf("held %d at once, limit %d", p, limit)
	}
	if got := a.inFlight.Load(); got != 0 {
		t.Fatalf("in flight %d at the end, want 0", got)
	}
}
