// Package facilitator is Tollway's x402 facilitator beyond the protocol
// (chain/x402): what the reference facilitators lack and their users ask
// for. Every authorization it verifies is recorded durably (a row in the
// engine's table, fsynced before the answer), so the same authorization
// never verifies twice, also across restarts; and the payer's token
// balance is reserved for the authorizations in flight, so two that cannot
// both be paid are not both accepted. An authorization stops holding its
// reservation once its validBefore has passed: the token refuses it then.
//
// Settlement is per payment (a transferWithAuthorization each, answered
// with its receipt) or, in batch mode, many authorizations per transaction
// through the AuthorizationBatcher contract: a settle is answered once its
// authorization is durably QUEUED, and one goroutine cuts the queue every
// window into batches whose transaction is recorded before it is sent;
// one goroutine per batch in flight awaits its receipt and records each
// entry's outcome from the batcher's events. Close stops them; Open
// resumes what they left.
package facilitator

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/tollway/tollway/chain/x402"
	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/x402metrics"
)

// Limits.
const (
	// OpenPerPayerMax bounds the authorizations of one payer (per token)
	// verified and not yet expired: past it, ErrLimit.
	OpenPerPayerMax = 1024
	// OpenMax bounds them over all payers.
	OpenMax = 1 << 20
	// RecordRetention is how long a record is kept after its validBefore
	// (the token refuses the authorization by then; the record serves
	// retries and audits).
	RecordRetention = 24 * time.Hour
	// gcRowsPerWrite bounds the deletions of one table write.
	gcRowsPerWrite = 1000
)

// ErrLimit refuses a verification past OpenPerPayerMax or OpenMax.
var ErrLimit = errors.New("facilitator: too many authorizations in flight")

// States of a recorded authorization.
const (
	StateVerified = "VERIFIED"
)

// recordPrefix leads the table keys of authorization records:
// recordPrefix + chain id + "/" + token + "/" + from + "/" + nonce.
const recordPrefix = "x402/auth/"

// record is one authorization as the table keeps it.
type record struct {
	State       string      `json:"state"`
	Value       string      `json:"value"`
	PayTo       string      `json:"payTo"`
	ValidBefore int64       `json:"validBefore"`
	VerifiedAt  time.Time   `json:"verifiedAt"`
	Settlement  *settlement `json:"settlement,omitempty"`
	Owner       string      `json:"owner,omitempty"` // whom its metrics count for (x402metrics.OwnerOf)
	// Entry is a batched authorization's (batch mode): the rest of what
	// the batch sends while QUEUED or SUBMITTED, its network after.
	Entry *queuedEntry `json:"entry,omitempty"`
}

// authKey names an authorization; payerKey a payer of one token.
type (
	authKey struct {
		chain uint64
		token common.Address
		from  common.Address
		nonce [32]byte
	}
	payerKey struct {
		chain uint64
		token common.Address
		from  common.Address
	}
)

func (k authKey) payer() payerKey { return payerKey{k.chain, k.token, k.from} }

func (k authKey) row() []byte {
	return fmt.Appendf(nil, "%s%d/%s/%s/%x", recordPrefix, k.chain, k.token.Hex(), k.from.Hex(), k.nonce)
}

// open is an unexpired authorization holding a reservation.
type open struct {
	value       *big.Int
	validBefore int64
}

// Config configures a facilitator.
type Config struct {
	Engine   *engine.Engine
	Verifier *x402.Verifier
	Networks []x402.Network // what Supported lists
	// Signer sends settlements; nil: Settle answers ErrNoSigner.
	Signer *Signer
	// SettleWait bounds how long Settle waits for a receipt
	// (SettleWaitDefault if zero).
	SettleWait time.Duration
	// AfterStage, when set, is called after each durable step of a
	// settlement ("x402-recorded": its transaction recorded, not yet
	// sent), so crash tests can kill the process there.
	//
	// Batch mode adds "x402-batch-recorded": a batch's transaction
	// recorded (its records SUBMITTED), not yet sent.
	AfterStage func(stage string)
	// Mode is SettlePerPayment (the default) or SettleBatch.
	Mode SettleMode
	// Batcher is the AuthorizationBatcher batches go through: required by
	// SettleBatch; when set in per-payment mode, authorizations a batch
	// mode queued before a restart still settle.
	Batcher common.Address
	// BatchWindow is how often the queue is cut (BatchWindowDefault if
	// zero); BatchEntriesMax the most entries of a batch (and the queue
	// length that cuts one at once): contracts.X402BatchEntriesMax if zero
	// or above it.
	BatchWindow     time.Duration
	BatchEntriesMax int
	Now             func() time.Time
	Logger          *slog.Logger
}

// Facilitator verifies x402 payments with replay protection and balance
// reservations. Safe for concurrent use.
type Facilitator struct {
	config Config

	ctx    context.Context // ends with Close: resumed settlements stop waiting
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	open     map[authKey]open
	byPayer  map[payerKey][]authKey
	reserved map[payerKey]*big.Int
	// earliest is at most the least validBefore of a payer's open
	// authorizations: expire scans them only once it has passed, not on
	// every verification (a payer may have OpenPerPayerMax of them).
	earliest map[payerKey]int64
	settles  keyLocks[authKey] // settles in progress
	batch    batching

	paymentIDs keyLocks[string]
}

// Open loads the unexpired records (their reservations) and forgets those
// past RecordRetention.
func Open(ctx context.Context, config Config) (*Facilitator, error) {
	if config.Engine == nil || config.Verifier == nil {
		return nil, errors.New("facilitator: Engine and Verifier are required")
	}
	if config.Now == nil {
		config.Now = time.Now
	}
	if config.Logger == nil {
		config.Logger = slog.Default()
	}
	if config.SettleWait <= 0 {
		config.SettleWait = SettleWaitDefault
	}
	if err := checkBatchConfig(&config); err != nil {
		return nil, err
	}
	f := &Facilitator{config: config, open: make(map[authKey]open), byPayer: make(map[payerKey][]authKey),
		reserved: make(map[payerKey]*big.Int), earliest: make(map[payerKey]int64),
		batch: batching{kick: make(chan struct{}, 1), changed: make(chan struct{})}}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	pending := make(map[authKey]record)
	var queue []queued
	submitted := make(map[string][]queued)
	now := config.Now().Unix()
	var stale []engine.Row
	err := config.Engine.ScanRows([]byte(recordPrefix), func(key, value []byte) error {
		k, ok := parseRow(key)
		var r record
		if err := json.Unmarshal(value, &r); err != nil || !ok {
			return fmt.Errorf("facilitator: corrupt record %q", key)
		}
		switch {
		case r.ValidBefore+int64(RecordRetention/time.Second) < now:
			stale = append(stale, engine.Row{Key: append([]byte(nil), key...)})
		case batchable(r.State) && r.Entry != nil:
			// Queued again, or its batch resumed: reserved until then.
			if r.State == StateQueued {
				queue = append(queue, queued{k, r})
			} else if r.Settlement != nil {
				submitted[r.Settlement.TxHash] = append(submitted[r.Settlement.TxHash], queued{k, r})
			}
			fallthrough
		case r.State == StateSettling && r.Settlement != nil:
			// Its transaction may be mined even past validBefore: resumed.
			if r.State == StateSettling {
				pending[k] = r
			}
			fallthrough
		case r.ValidBefore > now && r.State == StateVerified:
			value, ok := new(big.Int).SetString(r.Value, 10)
			if !ok {
				return fmt.Errorf("facilitator: corrupt record %q", key)
			}
			f.add(k, open{value: value, validBefore: r.ValidBefore})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("facilitator: load records: %w", err)
	}
	for len(stale) > 0 {
		n := min(len(stale), gcRowsPerWrite)
		if _, err := config.Engine.WriteRows(ctx, stale[:n]...); err != nil {
			return nil, fmt.Errorf("facilitator: forget old records: %w", err)
		}
		stale = stale[n:]
	}
	if err := f.forgetPaymentIDs(ctx, config.Now()); err != nil {
		return nil, err
	}
	if len(pending) > 0 && config.Signer != nil {
		f.resume(pending)
	}
	if config.Signer != nil && config.Batcher != (common.Address{}) {
		if err := f.resumeBatches(queue, submitted); err != nil {
			f.Close()
			return nil, err
		}
		f.wg.Add(1)
		go f.runBatcher()
	} else if len(queue)+len(submitted) > 0 {
		config.Logger.Warn("x402: authorizations queued for batches wait for a signer and the batcher's address",
			"queued", len(queue), "batches", len(submitted))
	}
	return f, nil
}

// Close stops the settlements resumed at Open from waiting, and the
// batcher (a next Open resumes both). Call it before the engine's Close.
func (f *Facilitator) Close() {
	f.cancel() // idempotent, as is waiting
	f.wg.Wait()
}

// parseRow parses a record's key.
func parseRow(key []byte) (authKey, bool) {
	parts := strings.Split(strings.TrimPrefix(string(key), recordPrefix), "/")
	if len(parts) != 4 || !common.IsHexAddress(parts[1]) || !common.IsHexAddress(parts[2]) || len(parts[3]) != 64 {
		return authKey{}, false
	}
	var k authKey
	if _, err := fmt.Sscan(parts[0], &k.chain); err != nil {
		return authKey{}, false
	}
	k.token, k.from = common.HexToAddress(parts[1]), common.HexToAddress(parts[2])
	if n, err := hex.Decode(k.nonce[:], []byte(parts[3])); err != nil || n != len(k.nonce) {
		return authKey{}, false
	}
	return k, true
}

// add reserves an open authorization. REQUIRES: f.mu held (or f private).
func (f *Facilitator) add(k authKey, o open) {
	f.open[k] = o
	p := k.payer()
	if earliest, ok := f.earliest[p]; !ok || o.validBefore < earliest {
		f.earliest[p] = o.validBefore
	}
	f.byPayer[p] = append(f.byPayer[p], k)
	sum := f.reserved[p]
	if sum == nil {
		sum = new(big.Int)
		f.reserved[p] = sum
	}
	sum.Add(sum, o.value)
}

// remove releases an authorization's reservation. REQUIRES: f.mu held.
func (f *Facilitator) remove(k authKey) {
	o, ok := f.open[k]
	if !ok {
		return
	}
	delete(f.open, k)
	p := k.payer()
	keys := f.byPayer[p]
	for i := range keys {
		if keys[i] == k {
			keys[i] = keys[len(keys)-1]
			keys = keys[:len(keys)-1]
			break
		}
	}
	if len(keys) == 0 {
		delete(f.byPayer, p)
		delete(f.reserved, p)
		delete(f.earliest, p)
		return
	}
	f.byPayer[p] = keys
	f.reserved[p].Sub(f.reserved[p], o.value)
}

// expire releases a payer's authorizations past their validBefore.
// REQUIRES: f.mu held.
func (f *Facilitator) expire(p payerKey, now int64) {
	if earliest, ok := f.earliest[p]; !ok || earliest > now {
		return
	}
	earliest := int64(math.MaxInt64)
	for _, k := range append([]authKey(nil), f.byPayer[p]...) {
		if validBefore := f.open[k].validBefore; validBefore <= now {
			f.remove(k)
		} else {
			earliest = min(earliest, validBefore)
		}
	}
	if _, ok := f.byPayer[p]; ok {
		f.earliest[p] = earliest
	}
}

// verify verifies a payment by the x402 rules (chain/x402), then, when it
// is valid, refuses an authorization this facilitator verified before
// (invalid_exact_evm_nonce_already_used) and one the payer's balance does
// not cover beside its other authorizations in flight
// (invalid_exact_evm_insufficient_balance); else it records the
// authorization durably and reserves its value before answering valid.
// An error means nothing was recorded: the chain could not be read (the
// response then carries the reference's reason for it), the engine could
// not write, or ErrLimit. The record's write carries claim's payment id
// and the verification's metrics delta (x402metrics), if any.
func (f *Facilitator) verify(ctx context.Context, request *x402.Request, claim *paymentClaim) (x402.VerifyResponse, error) {
	v, err := f.config.Verifier.Verify(ctx, request)
	if err != nil || !v.Response.IsValid {
		return v.Response, err
	}
	a := v.Authorization
	k := authKey{chain: v.Network.ChainID.Uint64(), token: v.Token, from: a.From, nonce: a.Nonce}
	invalid := func(reason, message string) (x402.VerifyResponse, error) {
		return x402.VerifyResponse{IsValid: false, InvalidReason: reason, InvalidMessage: message, Payer: v.Response.Payer}, nil
	}
	now := f.config.Now()
	f.mu.Lock()
	if _, ok := f.open[k]; ok {
		f.mu.Unlock()
		return invalid(x402.ReasonNonceAlreadyUsed, "this facilitator has verified this authorization already")
	}
	// A record not in memory: expired, or past this process's start.
	seen, err := f.recorded(k)
	if err != nil {
		f.mu.Unlock()
		return x402.VerifyResponse{}, err
	}
	if seen {
		f.mu.Unlock()
		return invalid(x402.ReasonNonceAlreadyUsed, "this facilitator has verified this authorization already")
	}
	p := k.payer()
	f.expire(p, now.Unix())
	if len(f.byPayer[p]) >= OpenPerPayerMax || len(f.open) >= OpenMax {
		f.mu.Unlock()
		return x402.VerifyResponse{}, ErrLimit
	}
	reserved := new(big.Int)
	if sum := f.reserved[p]; sum != nil {
		reserved.Set(sum)
	}
	if new(big.Int).Add(reserved, a.Value).Cmp(v.Balance) > 0 {
		f.mu.Unlock()
		return invalid(x402.ReasonInsufficientBalance, fmt.Sprintf("balance %s, of which %s is reserved by %d authorizations in flight; value %s",
			v.Balance, reserved, len(f.byPayer[p]), a.Value))
	}
	f.add(k, open{value: new(big.Int).Set(a.Value), validBefore: a.ValidBefore.Int64()})
	f.mu.Unlock()

	owner := x402metrics.OwnerOf(ctx)
	row, _ := json.Marshal(record{State: StateVerified, Value: a.Value.String(), PayTo: a.To.Hex(),
		ValidBefore: a.ValidBefore.Int64(), VerifiedAt: now.UTC(), Owner: owner})
	rows := append([]engine.Row{{Key: k.row(), Value: row}}, claim.rows()...)
	rows = append(rows, countRows(owner, k, x402metrics.KindVerified, a.Value.String(), now)...)
	if _, err := f.config.Engine.WriteRows(ctx, rows...); err != nil {
		// NB: like any write answered with an error, it may yet become
		// durable: the authorization is then refused as seen, never
		// accepted twice.
		f.mu.Lock()
		f.remove(k)
		f.mu.Unlock()
		return x402.VerifyResponse{}, fmt.Errorf("facilitator: record authorization: %w", err)
	}
	return v.Response, nil
}

// recorded reports whether the table holds a record of k.
func (f *Facilitator) recorded(k authKey) (bool, error) {
	key := k.row()
	found := false
	err := f.config.Engine.ScanRows(key, func(got, _ []byte) error {
		found = found || string(got) == string(key)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("facilitator: look up authorization: %w", err)
	}
	return found, nil
}

// Supported lists the kinds served: the exact scheme on each network, in
// x402 v2 and v1.
func (f *Facilitator) Supported() x402.SupportedResponse {
	var signers []common.Address
	if f.config.Signer != nil {
		signers = append(signers, f.config.Signer.Address())
	}
	supported := x402.Supported(f.config.Networks, signers)
	supported.Extensions = append(supported.Extensions, x402.ExtensionPaymentIdentifier)
	return supported
}

// Reserved returns what a payer's authorizations in flight reserve of a
// token on a chain (tests, metrics).
func (f *Facilitator) Reserved(chain uint64, token, from common.Address) *big.Int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expire(payerKey{chain, token, from}, f.config.Now().Unix())
	if sum := f.reserved[payerKey{chain, token, from}]; sum != nil {
		return new(big.Int).Set(sum)
	}
	return new(big.Int)
}
