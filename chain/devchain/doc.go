// Package devchain runs Tollway's embedded Ethereum chain: what `geth --dev`
// does, in-process and persistent.
//
// The chain (id 1337) lives in one directory (Dir/geth/chaindata, geth's own
// layout), serves JSON-RPC over HTTP for wallets and tools, and seals one
// block for each set of includable transactions in its pool, and no block
// when there is none: idle costs nothing and a transaction that can never be
// included (its fee cap below the base fee) does not make it seal empty
// blocks without end, as geth's period-0 dev loop does.
//
// Invariants:
//   - A block whose receipt anyone has seen is on disk: the chain database is
//     synced after every sealed block, and the state is kept for every block
//     (hash scheme, archive), so a kill -9 loses no sealed block. A failed
//     sync stops sealing for good (fail closed): nothing is sealed that might
//     not survive.
//   - The genesis is written once, at the first start, funding the funder
//     key that is created then and kept in Dir/funder.key; later starts reuse
//     the database and never pass a genesis again (a changed alloc would not
//     match the stored one). Wallets are funded by transfer (Fund).
//   - Metadata (SetMeta, GetMeta) is a small JSON file replaced atomically.
//   - The JSON-RPC endpoint serves eth, net and web3 only, over HTTP (no
//     WebSocket), and holds each answer until the head it may show is
//     synced, so no client sees a block a crash could take back.
//
// NB: a block's timestamp is the wall clock's second, or its parent's plus
// one if that is later, so under load block.timestamp runs ahead of the
// wall clock (one second per block); a transaction is capped at 16,777,216
// gas (EIP-7825) whatever the block gas limit.
//
// Goroutines: go-ethereum's own (node, eth, txpool, HTTP server); the sealer,
// which seals blocks; and the wake-up forwarder, which turns the pool's
// new-transaction events into a signal for the sealer. Close stops all of
// them.
package devchain
