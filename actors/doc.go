// Package actors holds Tollway's protoactor-go actors and the registry that
// finds or spawns them by id.
//
// One account actor owns each account's state: it expires due holds, lets
// each of the engine's operations decide against it (Op: the engine owns
// the operations and their kinds; the actor only serializes them), applies
// the event in memory and hands it to the write-ahead log, without waiting
// for the disk (it pipelines).
// Replies leave only from the log's commit callback, after the fsync, so
// nobody learns of an effect a crash could undo. Effects on the other
// accounts of an event (payee, fees, chain) reach their actors only after
// the event is durable, grouped per commit, so a hot payee receives one
// message per commit rather than one per charge.
//
// Goroutines: an actor runs on the goroutine of whichever send finds its
// mailbox idle (see mailbox), so a caller usually decides its own charge;
// Receive never blocks, which makes that safe for any sender. The package
// starts a goroutine only when one turn of an actor outlasts the mailbox's
// throughput, to give the sender back; it ends when the mailbox is empty. A panic in an actor stops it (it is never restarted with
// empty state) and reports the failure, which makes the engine fail closed.
package actors
