// Package chain will hold the settlement contracts, their Go bindings, the
// embedded simulated chain, the deposit watcher and the relayer's client. It
// is built by the chain settlement issue; the engine already keeps the seam
// it needs (each ledger's chain boundary account, and Subscribe for the
// relayer to follow committed events in log order).
//
// The embedded chain is chain/devchain: geth --dev in-process, persistent
// in the data directory, one block per set of includable transactions.
// Local is it with the contracts deployed; Remote is a real node with a
// deployment checked at OpenRemote; both give a Settlement, all that the
// watcher and the relayer know of the chain. Deploy is the one deployment,
// for both.
package chain
