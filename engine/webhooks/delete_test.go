package webhooks_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/webhooks"
)

// An endpoint deleted while the dispatcher is enqueuing events for it
// leaves no row behind, in its outbox or its delivery log: the
// dispatcher's write either lands before Delete reads the endpoint's rows
// (which then deletes it) or leaves the deleted endpoint's rows out. Each
// round deletes an endpoint under a stream of deposits, then waits for a
// marker deposit to reach a second endpoint, so that every event before
// it has been dispatched, and counts the deleted endpoint's rows.
func TestDeleteWhileDispatchingLeavesNoRows(t *testing.T) {
	w := newWorld(t, webhooks.Options{})
	witness := newReceiver(t, nil)
	w.register(witness)
	ctx := context.Background()
	for round := range 20 {
		failing := newReceiver(t, func(received, int) int { return http.StatusServiceUnavailable })
		e := w.register(failing)
		stop, stopped := make(chan struct{}), make(chan error, 1)
		go func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					stopped <- nil
					return
				default:
				}
				id := engine.TransferID(fmt.Sprintf("r%d-%d", round, i))
				if _, err := w.eng.Credit(ctx, id, "alice", engine.NewAmount(1)); err != nil {
					stopped <- fmt.Errorf("Credit(%s) = %w", id, err)
					return
				}
			}
		}()
		deadline := time.Now().Add(waitMax)
		for outboxRows(t, w.eng, e.ID) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: no event reached the outbox of %s within %v", round, e.ID, waitMax)
			}
			time.Sleep(time.Millisecond) // polling the dispatcher's durable writes
		}
		if err := w.svc.Delete(ctx, e.ID, owner); err != nil {
			t.Fatalf("round %d: Delete = %v", round, err)
		}
		close(stop)
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		mark := engine.TransferID(fmt.Sprintf("mark-%d", round))
		if _, err := w.eng.Credit(ctx, mark, "alice", engine.NewAmount(1)); err != nil {
			t.Fatalf("Credit(%s) = %v", mark, err)
		}
		for seen := false; !seen; {
			select {
			case r := <-witness.got:
				seen = r.Data["id"] == string(mark)
			case <-time.After(waitMax):
				t.Fatalf("round %d: the marker deposit did not reach the other endpoint within %v", round, waitMax)
			}
		}
		for _, prefix := range [][]byte{webhooks.OutboxPrefix(e.ID), webhooks.LogPrefix(e.ID)} {
			n := 0
			if err := w.eng.ScanRows(prefix, func(_, _ []byte) error { n++; return nil }); err != nil {
				t.Fatalf("ScanRows(%s) = %v", prefix, err)
			}
			if n != 0 {
				t.Errorf("round %d: %d rows under %s after the endpoint was deleted, want 0", round, n, prefix)
			}
		}
	}
}
