// Package engine is Tollway's embeddable settlement engine: open a data
// directory, create accounts, then charge, hold, capture and void, durably
// and concurrently, from any Go process.
//
// Guarantees:
//   - A call returns success only after its event is fsynced in the
//     write-ahead log; many concurrent calls share one fsync (group commit).
//   - Every answer, including a rejection or a balance, reflects only durable
//     state: nothing a crash could undo is ever shown.
//   - Per ledger, Σ debits = Σ credits; consumer, supplier and fee accounts
//     never overdraw; a client id applies at most once, across restarts.
//   - A failed write or fsync makes the engine fail closed: every later call
//     returns ErrUnavailable, and reopening recovers every acknowledged change.
//
// Goroutines: the log's committer (wal), protoactor's dispatcher running one
// actor per account (actors), a checkpointer that keeps a copy of the
// committed state and a writer for each snapshot it takes, a sweeper that
// expires holds at their deadline, and one per subscription. Close joins
// every one of them; none of them can hold up a reply.
package engine
