// Package contracts holds Tollway's settlement contracts (src/*.sol: the
// test USDC, the settlement pool and the x402 AuthorizationBatcher), their
// compiled ABI and bytecode (build/) and the Go bindings generated from
// them by go-ethereum's abigen v2 (testusdc.go, settlementpool.go,
// authorizationbatcher.go), all committed so a Go build needs no
// Node. `make contracts` regenerates everything; TestContractsAreCurrent
// fails when the committed output no longer matches the sources.
//
// The pool's interface is fixed by API.md ("Chain"). Its withdrawal delay
// must exceed the relayer's settlement deadline; SettleBatchEntriesMax keeps
// a settlement transaction under the per-transaction gas cap, and
// X402BatchEntriesMax a batch of x402 authorizations.
package contracts
