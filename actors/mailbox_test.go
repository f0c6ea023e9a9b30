package actors

import (
	"bytes"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/engine/ledger"
	"github.com/tollway/tollway/wal"
)

// probe is a test actor: it checks that each sender's messages arrive in
// order and that no two Receives of it overlap.
type probe struct {
	inside   atomic.Int32 // Receives running now; more than one is a bug
	overlaps atomic.Int32
	received atomic.Int64
	last     []int // per sender, the last sequence number seen
	bad      []string
	order    []int // senders, in the order their messages arrived
	want     int64 // when received reaches want, done is closed
	done     chan struct{}
}

type (
	seqMsg   struct{ sender, seq int }
	panicMsg struct{}
	tick     struct{}
	holdMsg  struct{ release chan struct{} } // Receive waits for release
)

func (p *probe) Receive(ctx actor.Context) {
	if p.inside.Add(1) != 1 {
		p.overlaps.Add(1)
	}
	defer p.inside.Add(-1)
	switch m := ctx.Message().(type) {
	case *seqMsg:
		if m.seq != p.last[m.sender]+1 {
			p.bad = append(p.bad, "sender out of order")
		}
		p.last[m.sender] = m.seq
		p.order = append(p.order, m.sender)
		if m.seq%64 == 0 {
			runtime.Gosched() // widen the window for an overlapping runner
		}
		if p.received.Add(1) == p.want {
			close(p.done)
		}
	case *tick:
		p.received.Add(1)
	case *panicMsg:
		panic("probe: broken invariant")
	case *holdMsg:
		<-m.release
	}
}

// spawnProbe spawns a probe with the given mailbox (nil: this package's)
// under a supervisor that stops it on failure and records the reason.
func spawnProbe(t testing.TB, senders int, produce actor.MailboxProducer, opts ...actor.PropsOption) (*actor.RootContext, *actor.PID, *probe, *mailbox, chan any) {
	t.Helper()
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	var mb *mailbox
	if produce == nil {
		mb = newMailbox()
		produce = func() actor.Mailbox { return mb }
	}
	p := &probe{last: make([]int, senders), want: -1, done: make(chan struct{})}
	failures := make(chan any, 1)
	opts = append(opts,
		actor.WithMailbox(produce),
		actor.WithGuardian(actor.NewOneForOneStrategy(0, 0, func(reason any) actor.Directive {
			failures <- reason
			return actor.StopDirective
		})))
	pid := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return p }, opts...))
	return system.Root, pid, p, mb, failures
}

// hammer sends perSender numbered messages from each of senders
// goroutines at once, straight into the mailbox as Registry.Send does,
// and checks that every one is handled with no further send to wake the
// mailbox; then it stops the actor.
func hammer(t *testing.T, senders, perSender int) *probe {
	root, pid, p, mb, _ := spawnProbe(t, senders, nil)
	p.want = int64(senders * perSender)
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := 1; i <= perSender; i++ {
				mb.PostUserMessage(&seqMsg{sender: s, seq: i})
			}
		})
	}
	wg.Wait()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second): // a failsafe, not a wait: a runner is on its way
		t.Fatalf("received %d messages, want %d: some are stuck in the mailbox", p.received.Load(), p.want)
	}
	if err := root.PoisonFuture(pid).Wait(); err != nil {
		t.Fatalf("stopping the probe: %v", err)
	}
	return p
}

// TestMailboxKeepsEachSendersOrder checks that messages from concurrent
// senders reach the actor each in its sender's order, and all of them,
// across inline turns, queued batches and turns handed to a goroutine.
func TestMailboxKeepsEachSendersOrder(t *testing.T) {
	p := hammer(t, 8, 5000)
	if len(p.bad) > 0 {
		t.Fatalf("%d messages out of their sender's order", len(p.bad))
	}
}

// TestMailboxNeverRunsReceiveConcurrently checks that, whoever sends, one
// actor's Receive runs on one goroutine at a time.
func TestMailboxNeverRunsReceiveConcurrently(t *testing.T) {
	if p := hammer(t, 16, 2000); p.overlaps.Load() != 0 {
		t.Fatalf("Receive ran concurrently with itself %d times", p.overlaps.Load())
	}
}

// TestMailboxIdleSenderDeliversQueuedMessagesFirst checks the one case
// where a sender finds the mailbox idle with messages still queued: a
// runner has just set it idle and not yet looked again (simulated here).
// The sender must deliver them before its own, or one sender's earlier
// message, queued while the mailbox ran, would come after its later one.
func TestMailboxIdleSenderDeliversQueuedMessagesFirst(t *testing.T) {
	_, _, p, mb, _ := spawnProbe(t, 2, nil)
	mb.state.Store(mailboxRunning) // a runner holds the mailbox...
	mb.PostUserMessage(&seqMsg{sender: 0, seq: 1})
	mb.PostUserMessage(&seqMsg{sender: 1, seq: 1})
	mb.state.Store(mailboxIdle) // ...and sets it idle
	mb.PostUserMessage(&seqMsg{sender: 0, seq: 2})
	if got := p.order; len(got) != 3 || got[0] != 0 || got[1] != 1 || got[2] != 0 || len(p.bad) != 0 {
		t.Fatalf("senders in arrival order %v (%d out of order), want [0 1 0]", got, len(p.bad))
	}
}

// TestMailboxGivesTheSenderBackAfterThroughput checks that a sender that
// ran an actor for a full turn of throughput messages returns, while the
// rest of the queue goes on on another goroutine, and that this goroutine
// ends once the mailbox is empty (synctest fails on a leaked goroutine).
func TestMailboxGivesTheSenderBackAfterThroughput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root, pid, p, mb, _ := spawnProbe(t, 1, nil)
		first := &holdMsg{release: make(chan struct{})}
		returned := make(chan struct{})
		go func() {
			mb.PostUserMessage(first) // runs the actor, held in Receive
			close(returned)
		}()
		synctest.Wait()
		const ticks = mailboxThroughput + 50
		for range ticks {
			mb.PostUserMessage(&tick{}) // busy: queued
		}
		last := &holdMsg{release: make(chan struct{})}
		mb.PostUserMessage(last) // the next turn will hold on this one
		close(first.release)
		synctest.Wait()
		select {
		case <-returned:
		default:
			t.Fatal("the sender is still running the actor after a full turn")
		}
		if got := p.received.Load(); got != ticks {
			t.Fatalf("received %d ticks before the last hold, want %d", got, ticks)
		}
		close(last.release)
		if err := root.PoisonFuture(pid).Wait(); err != nil {
			t.Fatalf("stopping the probe: %v", err)
		}
	})
}

// TestMailboxRunsTheActorOnTheIdleSender checks that a send to an idle
// actor is handled before the send returns, on the sender's goroutine.
func TestMailboxRunsTheActorOnTheIdleSender(t *testing.T) {
	keys := NewKeys(slog.New(slog.DiscardHandler))
	defer keys.Shutdown()
	ref, _ := newKeyRef(access.Key{ID: "key_inline", Scopes: access.ScopeAll, RateLimit: access.RateLimit{Requests: 10, PerSeconds: 1}})
	for range 3 {
		reply := make(chan Authorization, 1)
		keys.Send(ref, &Authorize{Scope: access.ScopeChargesWrite, Now: time.Now().UnixNano(), Reply: reply})
		if len(reply) != 1 {
			t.Fatal("the key actor had not answered when Send returned")
		}
		<-reply
	}
}

// TestMailboxPanicReachesSupervisorAndStopsTheActor checks that a panic
// in Receive reaches the supervisor, that the actor stops rather than
// restarts, and that later messages are dropped, not queued.
func TestMailboxPanicReachesSupervisorAndStopsTheActor(t *testing.T) {
	root, pid, p, mb, failures := spawnProbe(t, 1, nil)
	mb.PostUserMessage(&tick{})
	mb.PostUserMessage(&panicMsg{})
	select {
	case reason := <-failures:
		if reason != "probe: broken invariant" {
			t.Fatalf("supervisor saw %v", reason)
		}
	default:
		t.Fatal("the panic had not reached the supervisor when the send returned")
	}
	if _, alive := root.ActorSystem().ProcessRegistry.Get(pid); alive {
		t.Fatal("the failed actor is still registered")
	}
	mb.PostUserMessage(&tick{})
	if p.received.Load() != 1 || mb.UserMessageCount() != 0 {
		t.Fatalf("after the failure: received %d, queued %d; want 1, 0", p.received.Load(), mb.UserMessageCount())
	}
	// A stopped actor still answers a watch, so a shutdown does not hang.
	if err := root.PoisonFuture(pid).Wait(); err != nil {
		t.Fatalf("poisoning a stopped actor: %v", err)
	}
}

// TestKeyActorPanicIsLoggedAndLaterSendsDropped checks the key actor's
// supervisor: a panic is logged, and later requests get no answer.
func TestKeyActorPanicIsLoggedAndLaterSendsDropped(t *testing.T) {
	var out bytes.Buffer
	keys := NewKeys(slog.New(slog.NewTextHandler(&out, nil)))
	defer keys.Shutdown()
	key := access.Key{ID: "key_panics", Scopes: access.ScopeAll, RateLimit: access.RateLimit{Requests: 10, PerSeconds: 1}}
	ref, _ := newKeyRef(key)
	authorize(t, keys, ref, access.ScopeChargesWrite, time.Now())
	// Answering on a closed channel panics in Receive.
	closed := make(chan Authorization, 1)
	close(closed)
	keys.Send(ref, &Authorize{Scope: access.ScopeChargesWrite, Now: time.Now().UnixNano(), Reply: closed})
	if !strings.Contains(out.String(), "API key actor failed") {
		t.Fatalf("no failure logged; log: %s", out.String())
	}
	reply := make(chan Authorization, 1)
	if !keys.Send(ref, &Authorize{Scope: access.ScopeChargesWrite, Now: time.Now().UnixNano(), Reply: reply}) {
		t.Fatal("Send refused before Shutdown")
	}
	if len(reply) != 0 || ref.mb.Load().UserMessageCount() != 0 {
		t.Fatal("a stopped key actor answered or queued a request")
	}
}

// TestRegistryShutdownDrainsTheMailbox checks that Shutdown stops an
// account's actor only after the messages already in its mailbox, and
// drops the sends that come after it.
func TestRegistryShutdownDrainsTheMailbox(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var calls atomic.Int32
		replies := make(chan Op, 16)
		registry := NewRegistry(Config{
			Log: nopLog{},
			Now: func() int64 {
				if calls.Add(1) == 1 {
					<-release // holds the actor inside its first Receive
				}
				return 0
			},
			Reply:   func(op Op) { replies <- op },
			Expired: func(*Entry, *ledger.Event) *wal.Entry { panic("no holds") },
			Failed:  func(who string, reason any) { t.Errorf("%s failed: %v", who, reason) },
			Logger:  slog.New(slog.DiscardHandler),
		})
		registry.Insert(&ledger.Account{ID: "alice", Ledger: "test:USDC", CreditsPosted: ledger.NewAmount(100)})
		alice := registry.Entry("alice")
		go registry.Send(alice, &countOp{})
		synctest.Wait() // the actor runs on that goroutine, held in Now
		const queued = 10
		for range queued {
			registry.Send(alice, &countOp{}) // the mailbox is busy: queued
		}
		stopped := make(chan struct{})
		go func() {
			registry.Shutdown()
			close(stopped)
		}()
		synctest.Wait() // Shutdown waits, its poison queued behind the ops
		if len(replies) != 0 || len(stopped) != 0 {
			t.Fatal("an op was answered, or Shutdown returned, while the actor was held")
		}
		close(release)
		<-stopped
		if len(replies) != queued+1 {
			t.Fatalf("%d ops answered before the actor stopped, want %d", len(replies), queued+1)
		}
		registry.Send(alice, &countOp{})
		if len(replies) != queued+1 {
			t.Fatal("a send after Shutdown was answered")
		}
	})
}

// TestIdleSendAllocatesNothing checks that a message to an idle actor
// costs no allocation in the mailbox; protoactor's default mailbox, with
// the synchronized dispatcher this package used before, allocates a
// closure per idle-to-busy turn, which the test must be able to tell.
func TestIdleSendAllocatesNothing(t *testing.T) {
	msg := &tick{}
	_, _, _, mb, _ := spawnProbe(t, 1, nil)
	if allocs := testing.AllocsPerRun(1000, func() { mb.PostUserMessage(msg) }); allocs != 0 {
		t.Errorf("a send to an idle actor allocates %.1f times, want 0", allocs)
	}

	root, pid, _, _, _ := spawnProbe(t, 1, actor.Unbounded(), actor.WithDispatcher(actor.NewSynchronizedDispatcher(mailboxThroughput)))
	if allocs := testing.AllocsPerRun(1000, func() { root.Send(pid, msg) }); allocs == 0 {
		t.Error("protoactor's default mailbox allocates nothing either: this test cannot tell")
	}

	// End to end, through Keys.Send and the key actor.
	keys := NewKeys(slog.New(slog.DiscardHandler))
	defer keys.Shutdown()
	ref, _ := newKeyRef(access.Key{ID: "key_allocs", Scopes: access.ScopeAll, RateLimit: access.RateLimit{Requests: 1 << 30, PerSeconds: 1}})
	authorize := &Authorize{Scope: access.ScopeChargesWrite, Now: time.Now().UnixNano(), Reply: make(chan Authorization, 1)}
	if allocs := testing.AllocsPerRun(1000, func() {
		keys.Send(ref, authorize)
		<-authorize.Reply
	}); allocs != 0 {
		t.Errorf("an authorization round trip allocates %.1f times, want 0", allocs)
	}
}

// countOp is an op that logs nothing: it is answered through Config.Reply.
type countOp struct{}

func (*countOp) Decide(*ledger.Account, int64) *ledger.Event { return nil }
func (*countOp) Logged(*ledger.Account) *wal.Entry           { panic("countOp logs nothing") }
func (o *countOp) Barrier() *wal.Entry                       { return &wal.Entry{Token: o} }

type nopLog struct{}

func (nopLog) Append(*wal.Entry)        {}
func (nopLog) AppendBatch([]*wal.Entry) {}
