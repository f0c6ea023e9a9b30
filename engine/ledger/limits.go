package ledger

import "encoding/binary"

// Per-account limits. What one account keeps grows on client input through
// two things only: its open holds (each with a memo of up to MemoBytesMax)
// and the spenders that have debited it under a budget (kept for good, since
// their totals cap them). Both are capped here, so that one account's state,
// in memory and in its snapshot record, has a known bound: Decide refuses
// what would pass a cap with ErrLimitExceeded, and AccountRecordBytesMax,
// derived from the caps, is what the engine asserts fits one snapshot chunk
// (wal.SnapshotChunkBytesMax, 8 MiB), at compile time.
//
// Rejected alternative: snapshot chunks that split an account's record, so
// that no per-account cap is needed. Loading would then have to reassemble
// records across chunks, and one account could still hold unbounded memory
// in every actor, checkpointer copy and snapshot; a cap bounds all of them
// at once, and is a clear 4xx for the client that reaches it.
const (
	// HoldsPerAccountMax bounds an account's open holds: far more than
	// the concurrent calls one payer has pending in practice, and small
	// enough that their fixed part (HoldsPerAccountMax × holdRecordBytesMax,
	// about 2.2 MiB) leaves room for their memos in one chunk.
	HoldsPerAccountMax = 4096
	// HoldMemoBytesPerAccountMax bounds the memos of an account's open
	// holds taken together: 256 holds with a full MemoBytesMax memo, or
	// every one of HoldsPerAccountMax holds with a 1 KiB memo.
	HoldMemoBytesPerAccountMax = 4 << 20
	// SpendersPerAccountMax bounds the budgeted spenders an account keeps,
	// above the HTTP layer's 1000 keys per account so that it never binds
	// there first.
	SpendersPerAccountMax = 4096
)

// The largest encodings AppendAccount can produce within the limits above,
// field by field (uvarint lengths, amounts as two uvarints).
const (
	uvarintBytesMax = binary.MaxVarintLen64
	// lengthBytesMax is the uvarint of any string length in a record: every
	// string is at most MemoBytesMax < 1<<21 bytes, which takes 3 bytes.
	lengthBytesMax = 3
	amountBytesMax = 2 * uvarintBytesMax

	accountHeaderBytesMax = 1 + // version
		lengthBytesMax + systemIDBytesMax + lengthBytesMax + LedgerIDBytesMax + 1 + // id, ledger, kind
		4*amountBytesMax + // posted and pending debits and credits
		2*uvarintBytesMax + // hold and spender counts
		amountBytesMax // low-balance threshold
	// holdRecordBytesMax is one hold without its memo's bytes, which
	// HoldMemoBytesPerAccountMax counts for all holds at once.
	holdRecordBytesMax = lengthBytesMax + TransferIDBytesMax + 2*(lengthBytesMax+systemIDBytesMax) + // id, to, fees
		amountBytesMax + uvarintBytesMax + 3*uvarintBytesMax + // amount, fee rate, created, timeout, deadline
		lengthBytesMax + SpenderIDBytesMax + lengthBytesMax // spender, memo length
	spendRecordBytesMax = lengthBytesMax + SpenderIDBytesMax + amountBytesMax + uvarintBytesMax + amountBytesMax +
		2*amountBytesMax // the caps reported
	// withdrawalRecordBytesMax is the withdrawal reservation, or its absence.
	withdrawalRecordBytesMax = 1 + lengthBytesMax + TransferIDBytesMax + 2*amountBytesMax + uvarintBytesMax

	// AccountRecordBytesMax bounds AppendAccount's encoding of any account
	// Decide let grow: about 6.6 MiB.
	AccountRecordBytesMax = accountHeaderBytesMax +
		HoldsPerAccountMax*holdRecordBytesMax + HoldMemoBytesPerAccountMax +
		SpendersPerAccountMax*spendRecordBytesMax + withdrawalRecordBytesMax
)

// Compile-time assertion that every string length fits lengthBytesMax: a
// negative constant does not convert to uint.
const _ = uint(1<<21 - 1 - max(MemoBytesMax, TransferIDBytesMax, systemIDBytesMax, SpenderIDBytesMax, LedgerIDBytesMax))
