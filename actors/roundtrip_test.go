package actors_test

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollway/tollway/actors"
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/engine/ledger"
	"github.com/tollway/tollway/wal"
)

// BenchmarkKeyRoundTrip is one authorization: Keys.Send to an idle key
// actor and its answer, as the HTTP layer does per request.
func BenchmarkKeyRoundTrip(b *testing.B) {
	keys := actors.NewKeys(slog.New(slog.DiscardHandler))
	defer keys.Shutdown()
	var record atomic.Pointer[access.Key]
	record.Store(&access.Key{ID: "key_bench", Scopes: access.ScopeAll, RateLimit: access.RateLimit{Requests: 1 << 30, PerSeconds: 1}})
	ref := actors.NewKeyRef(&record)
	m := &actors.Authorize{Scope: access.ScopeChargesWrite, Now: time.Now().UnixNano(), Reply: make(chan actors.Authorization, 1)}
	b.ReportAllocs()
	for b.Loop() {
		keys.Send(ref, m)
		if answer := <-m.Reply; answer.Err != nil {
			b.Fatal(answer.Err)
		}
	}
}

type benchLog struct{}

func (benchLog) Append(*wal.Entry)        {}
func (benchLog) AppendBatch([]*wal.Entry) {}

// benchRegistry returns a registry of n accounts whose reads answer on
// the channel of the account's index.
func benchRegistry(b *testing.B, n int) (*actors.Registry, []*actors.Entry) {
	registry := actors.NewRegistry(actors.Config{
		Log: benchLog{}, Now: func() int64 { return 0 },
		Reply:   func(op actors.Op) { op.(*benchRead).done <- struct{}{} },
		Expired: func(*actors.Entry, *ledger.Event) *wal.Entry { panic("no holds") },
		Failed:  func(who string, reason any) { panic(fmt.Sprint(who, reason)) },
		Logger:  slog.New(slog.DiscardHandler),
	})
	entries := make([]*actors.Entry, n)
	for i := range entries {
		id := ledger.AccountID(fmt.Sprintf("acct_%d", i))
		registry.Insert(&ledger.Account{ID: id, Ledger: "test:USDC"})
		entries[i] = registry.Entry(id)
	}
	return registry, entries
}

// benchRead is the smallest op: it decides nothing and is answered at
// once through Config.Reply.
type benchRead struct{ done chan struct{} }

func (*benchRead) Decide(*ledger.Account, int64) *ledger.Event { return nil }
func (*benchRead) Logged(*ledger.Account) *wal.Entry           { panic("a read logs nothing") }
func (o *benchRead) Barrier() *wal.Entry                       { return &wal.Entry{Token: o} }

// BenchmarkAccountRoundTrip is one op through Registry.Send to an idle
// account actor and its answer.
func BenchmarkAccountRoundTrip(b *testing.B) {
	registry, entries := benchRegistry(b, 1)
	defer registry.Shutdown()
	op := &benchRead{done: make(chan struct{}, 1)}
	b.ReportAllocs()
	for b.Loop() {
		registry.Send(entries[0], op)
		<-op.done
	}
}

// BenchmarkAccountRoundTripParallel is BenchmarkAccountRoundTrip from
// GOMAXPROCS goroutines, each with its own account, as charges from
// different payers.
func BenchmarkAccountRoundTripParallel(b *testing.B) {
	registry, entries := benchRegistry(b, 1024)
	defer registry.Shutdown()
	var next atomic.Int32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		entry := entries[next.Add(1)-1]
		op := &benchRead{done: make(chan struct{}, 1)}
		for pb.Next() {
			registry.Send(entry, op)
			<-op.done
		}
	})
}

// BenchmarkAccountContended sends from GOMAXPROCS goroutines to one
// account, which is then mostly busy: most sends only queue.
func BenchmarkAccountContended(b *testing.B) {
	registry, entries := benchRegistry(b, 1)
	defer registry.Shutdown()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		op := &benchRead{done: make(chan struct{}, 1<<16)}
		n := 0
		for pb.Next() {
			registry.Send(entries[0], op)
			if n++; n == 1<<15 {
				for ; n > 0; n-- {
					<-op.done
				}
			}
		}
		for ; n > 0; n-- {
			<-op.done
		}
	})
}
