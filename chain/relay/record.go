package relay

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollway/tollway/engine"
)

// State is where a settlement batch is in its life.
type State string

const (
	// Pending: cut and written to the log, its payees paid out off chain;
	// no transaction signed yet.
	Pending State = "PENDING"
	// Submitted: a settleBatch transaction is signed and recorded (and
	// sent, or about to be: a restart sends it again).
	Submitted State = "SUBMITTED"
	// Confirmed: settled on chain, Confirmations blocks deep.
	Confirmed State = "CONFIRMED"
	// Failed: the chain refused the batch; its debits went back to be
	// settled by a later batch.
	Failed State = "FAILED"
)

// Terminal reports whether nothing more happens to a batch in state s.
func (s State) Terminal() bool { return s == Confirmed || s == Failed }

// Entry is one netted debit of a batch, as settleBatch takes it, with the
// accounts it came from.
type Entry struct {
	Payer  engine.AccountID `json:"payer"`
	Payee  engine.AccountID `json:"payee"`
	From   common.Address   `json:"from"`
	To     common.Address   `json:"to"`
	Amount engine.Amount    `json:"amount"`
	Fee    engine.Amount    `json:"fee"`
	// Last is the time of the latest debit of the pair the entry settles
	// (unix nanoseconds; see Net).
	Last int64 `json:"last"`
}

// Settlement is one batch: its entries, where it is, and the transaction
// that settles it.
type Settlement struct {
	ID      string          `json:"id"`
	Seq     uint64          `json:"seq"`
	BatchID common.Hash     `json:"batchId"`
	State   State           `json:"state"`
	Ledger  engine.LedgerID `json:"ledger"`
	Entries []Entry         `json:"entries"`
	// Through is the log position the batch's nets account for: a charge
	// at or before it, between a pair the batch holds, is settled by it or
	// by an earlier batch.
	Through uint64 `json:"through"`

	// The transaction: its nonce, the hashes of every version signed (a
	// stuck one is replaced with a higher fee; any of them may be mined),
	// and the latest signed bytes, which a restart sends again.
	Nonce       uint64        `json:"nonce,omitempty"`
	TxHashes    []common.Hash `json:"txHashes,omitempty"`
	RawTx       []byte        `json:"rawTx,omitempty"`
	SignedAt    time.Time     `json:"signedAt,omitzero"`
	TxHash      common.Hash   `json:"txHash,omitzero"` // the one mined
	BlockNumber uint64        `json:"blockNumber,omitempty"`
	GasUsed     uint64        `json:"gasUsed,omitempty"`
	Error       string        `json:"error,omitempty"`

	CreatedAt   time.Time `json:"createdAt"`
	ConfirmedAt time.Time `json:"confirmedAt,omitzero"`
	FailedAt    time.Time `json:"failedAt,omitzero"` // zero in records written before it was kept
	// Oldest is when the oldest debit the batch settles was committed, so
	// CONFIRMED - Oldest is the relayer's lag.
	Oldest time.Time `json:"oldest,omitzero"`
}

// Total returns the batch's amount and fees.
func (s *Settlement) Total() (amount, fees engine.Amount) {
	for _, e := range s.Entries {
		amount, _ = amount.Add(e.Amount) // bounded: each entry was a sum that did not overflow
		fees, _ = fees.Add(e.Fee)
	}
	return amount, fees
}

// Table keys of the relayer (the engine's table, written through its log).
const (
	keyPrefix = "chain/relay/"
	// cursorKey holds the last log position every row accounts for.
	cursorKey = keyPrefix + "cursor"
	// nextKey holds the next batch's sequence number.
	nextKey = keyPrefix + "next"
	// batchPrefix + seq (16 hex digits): a Settlement.
	batchPrefix = keyPrefix + "batch/"
	// openPrefix + seq: the batches not yet terminal, which a restart resumes.
	openPrefix = keyPrefix + "open/"
	// carryPrefix + payer + NUL + payee: a pair's Net not yet in a batch.
	carryPrefix = keyPrefix + "carry/"
	// accountPrefix + account + NUL + ^seq: the batches an account is in,
	// newest first.
	accountPrefix = keyPrefix + "account/"
	// pairPrefix + payer + NUL + payee + NUL + last + seq: the batches of a
	// pair by the time of their latest debit (Net.Last), so a transfer
	// finds the batch that settled it.
	pairPrefix = keyPrefix + "pair/"
	// RetentionName is the relayer's engine retention (engine.RetainRow):
	// the log after its cursor is kept until it has folded it.
	RetentionName = "chain-relayer"
)

func seqHex(seq uint64) string { return fmt.Sprintf("%016x", seq) }

func batchKey(seq uint64) []byte { return []byte(batchPrefix + seqHex(seq)) }
func openKey(seq uint64) []byte  { return []byte(openPrefix + seqHex(seq)) }

func carryKey(p Pair) []byte { return []byte(carryPrefix + string(p.Payer) + "\x00" + string(p.Payee)) }

func accountKey(account engine.AccountID, seq uint64) []byte {
	return []byte(accountPrefix + string(account) + "\x00" + seqHex(^seq))
}

func pairKey(p Pair, last int64, seq uint64) []byte {
	key := []byte(pairPrefix + string(p.Payer) + "\x00" + string(p.Payee) + "\x00")
	key = binary.BigEndian.AppendUint64(key, uint64(last))
	return binary.BigEndian.AppendUint64(key, seq)
}

func uint64Row(key string, v uint64) engine.Row {
	return engine.Row{Key: []byte(key), Value: binary.BigEndian.AppendUint64(nil, v)}
}

// SettlementID is the public id of batch seq.
func SettlementID(seq uint64) string { return "stl_" + strconv.FormatUint(seq, 10) }

// ParseSettlementID returns the sequence number of a settlement id.
func ParseSettlementID(id string) (uint64, bool) {
	digits, ok := strings.CutPrefix(id, "stl_")
	if !ok || digits == "" || len(digits) > 20 || (len(digits) > 1 && digits[0] == '0') {
		return 0, false
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	return seq, err == nil && seq > 0
}

// BatchID is batch seq's id on chain: unique per pool, so two Tollways
// (or a test and a server) sharing a chain never collide, and the same
// after a restart, so a resent batch is recognised as settled.
func BatchID(pool common.Address, seq uint64) common.Hash {
	return crypto.Keccak256Hash([]byte("tollway-settlement"), pool.Bytes(), binary.BigEndian.AppendUint64(nil, seq))
}

// carryValue encodes a Net as its carry row: amount, fee, through.
func carryValue(n Net) []byte {
	v, _ := json.Marshal(carryRecord{Amount: n.Amount, Fee: n.Fee, Through: n.Through, Last: n.Last})
	return v
}

type carryRecord struct {
	Amount  engine.Amount `json:"amount"`
	Fee     engine.Amount `json:"fee"`
	Through uint64        `json:"through"`
	Last    int64         `json:"last"`
}

func decodeCarry(key, value []byte) (Pair, Net, error) {
	rest := strings.TrimPrefix(string(key), carryPrefix)
	payer, payee, ok := strings.Cut(rest, "\x00")
	var r carryRecord
	if err := json.Unmarshal(value, &r); err != nil || !ok {
		return Pair{}, Net{}, fmt.Errorf("relay: corrupt carry row %q", key)
	}
	return Pair{Payer: engine.AccountID(payer), Payee: engine.AccountID(payee)}, Net{Amount: r.Amount, Fee: r.Fee, Through: r.Through, Last: r.Last}, nil
}

func encodeSettlement(s *Settlement) []byte {
	v, err := json.Marshal(s)
	if err != nil { // only plain fields: cannot fail
		panic(fmt.Sprintf("relay: encode settlement: %v", err))
	}
	return v
}

func decodeSettlement(value []byte) (*Settlement, error) {
	var s Settlement
	if err := json.Unmarshal(value, &s); err != nil {
		return nil, fmt.Errorf("relay: corrupt settlement row: %w", err)
	}
	return &s, nil
}
