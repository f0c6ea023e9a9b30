// Package chain will hold the settlement contracts, their Go bindings, the
// embedded simulated chain, the deposit watcher and the relayer's client. It
// is built by the chain settlement issue; the engine already keeps the seam
// it needs (each ledger's chain boundary account, and Subscribe for the
// relayer to follow committed events in log order).
//
// The embedded chain is chain/devchain: geth --dev in-process, persistent
// in the data directory, one block per set of includable transactions.
package chain
