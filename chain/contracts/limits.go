package contracts

// SettleBatchEntriesMax is the most entries the relayer puts in one
// settleBatch, so that every batch fits one transaction: a transaction may
// use at most 16,777,216 gas (EIP-7825, on Osaka chains), and a batch above
// it can never be mined.
//
// Measured by TestSettleBatchGas (go test -run SettleBatchGas -v
// ./chain/contracts) on go-ethereum 1.17.10's dev chain, the embedded
// chain's rules. That chain enables the "Bogota" instruction set, whose
// EIP-8037 state gas charges 64 × 1,530 = 97,920 gas for each new storage
// slot, so an entry paying a payee that holds no USDC yet costs about
// 131,000 gas (over a base of about 300,000 per batch), and 126 such entries
// are the most that fit. An entry to a payee that already holds USDC costs
// about 35,000, to the batch's one repeated payee about 23,000. The cap
// takes the worst case with a margin of a fifth, since the state-gas price
// is still moving between go-ethereum releases; TestSettleBatchGas fails if
// it leaves less than a tenth.
const SettleBatchEntriesMax = 100

// X402BatchEntriesMax is the most authorizations the x402 facilitator puts
// in one AuthorizationBatcher.settle, so that every batch fits one
// transaction under the 16,777,216 gas cap (EIP-7825).
//
// Measured by TestAuthorizationBatcherGas (go test -run
// AuthorizationBatcherGas -v ./chain/contracts) on the simulated backend of
// go-ethereum 1.17.10, the embedded chain's rules. Every entry writes a
// new nonce slot (EIP-3009 nonces are random), so under EIP-8037's state
// gas an entry from a new payer to a payee holding no USDC costs about
// 254,000 gas over a base of about 200,000 per batch, and 65 such entries
// are the most that fit; to a payee already paid, about 146,000. The cap
// keeps a margin of about a fifth, as SettleBatchEntriesMax does, and the
// test fails if it leaves less than a tenth.
const X402BatchEntriesMax = 50
