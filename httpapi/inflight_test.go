package httpapi

import (
	"testing"
	"testing/synctest"
)

func TestInflightCloseWaitsForWorkBegunAndRefusesMore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var f inflight
		if !f.begin() || !f.begin() {
			t.Fatal("begin before close = false, want true")
		}
		closed := make(chan struct{})
		go func() {
			f.close()
			close(closed)
		}()
		synctest.Wait()
		select {
		case <-closed:
			t.Fatal("close returned with two pieces of work in flight")
		default:
		}
		if f.begin() {
			t.Fatal("begin after close = true, want false: the work would race the wait")
		}
		f.end()
		synctest.Wait()
		select {
		case <-closed:
			t.Fatal("close returned with one piece of work in flight")
		default:
		}
		f.end()
		synctest.Wait()
		select {
		case <-closed:
		default:
			t.Fatal("close did not return once the work ended")
		}
	})
}

func TestInflightCloseWithNothingInFlightReturns(t *testing.T) {
	var f inflight
	f.close()
	f.close() // again: Shutdown runs once, but close must not block
	if f.begin() {
		t.Fatal("begin after close = true, want false")
	}
}
