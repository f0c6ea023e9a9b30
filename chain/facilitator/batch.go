package facilitator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/tollway/tollway/chain/contracts"
	"github.com/tollway/tollway/chain/x402"
	"github.com/tollway/tollway/engine"
)

// SettleMode is how settlements reach the chain.
type SettleMode string

const (
	// SettlePerPayment sends one transferWithAuthorization per settle and
	// answers with its receipt (the default).
	SettlePerPayment SettleMode = "payment"
	// SettleBatch answers a settle once its authorization is durably
	// queued, and sends the queue many authorizations per transaction
	// through the AuthorizationBatcher, every BatchWindow or at
	// BatchEntriesMax entries.
	//
	// NB: the payer's authorization is verified (signature, balance
	// beside the reservations of its others in flight, an eth_call of the
	// transfer) before it is queued, so a queued one fails on chain only
	// if the payer spends the balance or the nonce elsewhere meanwhile:
	// the risk a resource server takes for not waiting for a block. A
	// caller that wants the outcome asks SettleFinal (wait=final).
	SettleBatch SettleMode = "batch"
)

// Batch limits.
const (
	// BatchWindowDefault is how long an authorization waits in the queue
	// for others to share its transaction.
	BatchWindowDefault = time.Second
	// QueuedMax bounds the authorizations queued and not yet in a batch:
	// past it, settle answers ErrLimit. A minute of queue at 160 settles
	// a second, far above what one signer's transactions carry.
	QueuedMax = 10_000
	// SubmittedBatchesMax bounds the batch transactions sent and not yet
	// mined: past it the queue waits (and fills, then ErrLimit), so a
	// stalled chain does not take an unbounded number of nonces.
	SubmittedBatchesMax = 16
	// batchExpiryMargin is what an authorization must have left beyond the
	// window to be batched: a few blocks for its batch to be mined.
	batchExpiryMargin = 30 * time.Second
)

// States of a batched authorization, after StateVerified.
const (
	// StateQueued: durably queued, in no batch yet; a restart queues it
	// again.
	StateQueued = "QUEUED"
	// StateSubmitted: in a batch whose transaction is signed and recorded
	// (Settlement.TxHash; the batch row holds the bytes), sent or about to
	// be: a restart sends it again.
	StateSubmitted = "SUBMITTED"
)

// batchPrefix leads the table keys of batch rows: batchPrefix + the
// transaction hash.
const batchPrefix = "x402/batch/"

// queuedEntry is what a QUEUED record keeps beyond the verified record:
// what the batcher's entry needs, and the answer's network.
type queuedEntry struct {
	ValidAfter string `json:"validAfter"`
	Signature  string `json:"signature"`
	Network    string `json:"network"`
}

// batchRow is a batch as the table keeps it from its signing until its
// outcome is recorded: its transaction, and the records it settles.
type batchRow struct {
	TxHash  string   `json:"txHash"`
	RawTx   string   `json:"rawTx"`
	Records []string `json:"records"` // the records' table keys
}

// queued is an authorization waiting for a batch.
type queued struct {
	k authKey
	r record
}

// batching is the batch mode's memory: the queue and what waits on it.
// Guarded by Facilitator.mu.
type batching struct {
	queue     []queued
	slots     int // len(queue) plus the enqueues writing: bounded by QueuedMax
	submitted int // batches sent and not yet mined
	kick      chan struct{}
	// changed is closed, and replaced, whenever a batched record moves on:
	// waiters for an outcome look again.
	changed chan struct{}
}

// notify wakes the waiters of batched records. REQUIRES: f.mu held.
func (f *Facilitator) notify() {
	close(f.batch.changed)
	f.batch.changed = make(chan struct{})
}

// enqueue records a VERIFIED authorization QUEUED and queues it.
func (f *Facilitator) enqueue(ctx context.Context, k authKey, r record, a *x402.Authorization, network string) (record, error) {
	f.mu.Lock()
	if f.batch.slots >= QueuedMax {
		f.mu.Unlock()
		return r, fmt.Errorf("%w: %d authorizations queued for a batch", ErrLimit, QueuedMax)
	}
	f.batch.slots++
	f.mu.Unlock()
	r.State = StateQueued
	r.Entry = &queuedEntry{ValidAfter: a.ValidAfter.String(), Signature: hexutil.Encode(a.Signature), Network: network}
	if err := f.store(ctx, k, r); err != nil {
		f.mu.Lock()
		f.batch.slots--
		f.mu.Unlock()
		return r, err
	}
	f.mu.Lock()
	f.batch.queue = append(f.batch.queue, queued{k, r})
	full := len(f.batch.queue) >= f.config.BatchEntriesMax
	f.mu.Unlock()
	if full {
		select {
		case f.batch.kick <- struct{}{}:
		default:
		}
	}
	return r, nil
}

// answerBatched answers a settle of a batched authorization: at once,
// success with the batch's transaction when known; or, when final, its
// outcome once recorded, settlement_pending while it is not within
// SettleWait.
func (f *Facilitator) answerBatched(ctx context.Context, k authKey, r record, final bool) (x402.SettleResponse, error) {
	payer := k.from.Hex()
	network := fmt.Sprintf("eip155:%d", k.chain)
	if r.Entry != nil {
		network = r.Entry.Network
	}
	transaction := func(r record) string {
		if r.Settlement != nil {
			return r.Settlement.TxHash
		}
		return ""
	}
	if !final {
		return x402.SettleResponse{Success: true, Payer: payer, Transaction: transaction(r), Network: network, Amount: r.Value}, nil
	}
	wait, cancel := context.WithTimeout(ctx, f.config.SettleWait)
	defer cancel()
	for {
		f.mu.Lock()
		changed := f.batch.changed
		f.mu.Unlock()
		current, _, err := f.load(k)
		if err != nil {
			return x402.SettleResponse{}, err
		}
		if current.State == StateSettled || current.State == StateFailed {
			return *current.Settlement.Response, nil
		}
		select {
		case <-changed:
		case <-wait.Done():
			return x402.SettleResponse{Success: false, ErrorReason: ReasonSettlementPending,
				ErrorMessage: "the batch settling this authorization is not mined yet: ask again", Payer: payer,
				Transaction: transaction(current), Network: network}, nil
		}
	}
}

// runBatcher cuts the queue into batches every window, and at once when
// it holds a full batch, until Close.
func (f *Facilitator) runBatcher() {
	defer f.wg.Done()
	ticker := time.NewTicker(f.config.BatchWindow)
	defer ticker.Stop()
	for {
		select {
		case <-f.ctx.Done():
			return
		case <-ticker.C:
			f.cut(false)
		case <-f.batch.kick:
			f.cut(true)
		}
	}
}

// cut submits the queue's batches, only full ones when fullOnly, while
// fewer than SubmittedBatchesMax are in flight. A batch that cannot be
// signed and recorded goes back to the queue's front for the next cut.
func (f *Facilitator) cut(fullOnly bool) {
	for f.ctx.Err() == nil {
		f.mu.Lock()
		if len(f.batch.queue) == 0 || f.batch.submitted >= SubmittedBatchesMax ||
			fullOnly && len(f.batch.queue) < f.config.BatchEntriesMax {
			f.mu.Unlock()
			return
		}
		batch := f.takeBatch()
		f.batch.submitted++
		f.mu.Unlock()
		if retry, err := f.submitBatch(batch); err != nil {
			f.config.Logger.Warn("x402: submit a batch", "entries", len(retry), "error", err)
			f.mu.Lock()
			f.batch.queue = append(retry, f.batch.queue...)
			f.batch.slots += len(retry)
			f.batch.submitted--
			f.mu.Unlock()
			return
		}
	}
}

// takeBatch removes from the queue up to BatchEntriesMax authorizations
// of the first one's token, in queue order. REQUIRES: f.mu held, the queue
// not empty.
func (f *Facilitator) takeBatch() []queued {
	first := f.batch.queue[0].k
	var batch, rest []queued
	for _, q := range f.batch.queue {
		if len(batch) < f.config.BatchEntriesMax && q.k.chain == first.chain && q.k.token == first.token {
			batch = append(batch, q)
		} else {
			rest = append(rest, q)
		}
	}
	f.batch.queue = rest
	f.batch.slots -= len(batch)
	return batch
}

// submitBatch fails the batch's expired authorizations, then signs the
// others' settle with the signer's next nonce, records the batch row and
// moves its records to SUBMITTED in one write, sends it, and leaves a
// goroutine awaiting its receipt. Failing before the write, it returns
// the authorizations to queue again.
func (f *Facilitator) submitBatch(batch []queued) (retry []queued, err error) {
	now := f.config.Now().Unix()
	live := batch[:0:0]
	for _, q := range batch {
		if q.r.ValidBefore <= now {
			f.completeEntry(q.k, q.r, x402.SettleResponse{Success: false, ErrorReason: x402.ReasonValidBeforeExpired,
				ErrorMessage: "the authorization expired in the queue", Payer: q.k.from.Hex(), Network: q.r.Entry.Network})
			continue
		}
		live = append(live, q)
	}
	if len(live) == 0 {
		f.mu.Lock()
		f.batch.submitted--
		f.mu.Unlock()
		return nil, nil
	}
	list, err := batchEntries(live)
	if err != nil {
		return live, err
	}
	s, batcher := f.config.Signer, f.config.Batcher
	data := contracts.NewAuthorizationBatcher().PackSettle(live[0].k.token, list)
	ctx := f.ctx
	gas, err := s.Backend.EstimateGas(ctx, ethereum.CallMsg{From: s.Address(), To: &batcher, Data: data})
	if err != nil {
		return live, fmt.Errorf("facilitator: estimate a batch's gas: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.sign(ctx, batcher, gas+gas/5, data)
	if err != nil {
		return live, err
	}
	raw, err := tx.MarshalBinary()
	if err != nil {
		return live, fmt.Errorf("facilitator: encode a batch: %w", err)
	}
	row := batchRow{TxHash: tx.Hash().Hex(), RawTx: hexutil.Encode(raw)}
	rows := make([]engine.Row, 0, len(live)+1)
	submitted := make([]queued, len(live))
	for i, q := range live {
		q.r.State = StateSubmitted
		q.r.Settlement = &settlement{Nonce: tx.Nonce(), TxHash: row.TxHash}
		value, _ := json.Marshal(q.r)
		rows = append(rows, engine.Row{Key: q.k.row(), Value: value})
		row.Records = append(row.Records, string(q.k.row()))
		submitted[i] = q
	}
	value, _ := json.Marshal(row)
	rows = append(rows, engine.Row{Key: []byte(batchPrefix + row.TxHash), Value: value})
	if _, err := f.config.Engine.WriteRows(ctx, rows...); err != nil {
		// NB: like any write answered with an error, it may yet be
		// durable; its records then wait for a transaction never sent.
		return live, fmt.Errorf("facilitator: record a batch: %w", err)
	}
	s.nonce++
	f.mu.Lock()
	f.notify() // the transaction is known
	f.mu.Unlock()
	if f.config.AfterStage != nil {
		f.config.AfterStage("x402-batch-recorded")
	}
	if err := s.Backend.SendTransaction(ctx, tx); err != nil && !isKnown(err) {
		s.nonceOK = false // learn the node's view again before the next
		f.config.Logger.Warn("x402 batch send", "tx", tx.Hash(), "error", err)
	}
	f.wg.Add(1)
	go f.awaitBatch(tx.Hash(), submitted)
	return nil, nil
}

// batchEntries is the batcher's list for queued authorizations.
func batchEntries(batch []queued) ([]contracts.AuthorizationBatcherAuthorization, error) {
	list := make([]contracts.AuthorizationBatcherAuthorization, len(batch))
	for i, q := range batch {
		value, ok := new(big.Int).SetString(q.r.Value, 10)
		validAfter, okAfter := new(big.Int).SetString(q.r.Entry.ValidAfter, 10)
		signature, err := hexutil.Decode(q.r.Entry.Signature)
		if !ok || !okAfter || err != nil {
			return nil, fmt.Errorf("facilitator: corrupt queued record %q", q.k.row())
		}
		list[i] = contracts.AuthorizationBatcherAuthorization{From: q.k.from, To: common.HexToAddress(q.r.PayTo), Value: value,
			ValidAfter: validAfter, ValidBefore: big.NewInt(q.r.ValidBefore), Nonce: q.k.nonce, Signature: signature}
	}
	return list, nil
}

// awaitBatch waits for a batch's receipt (until Close: a restart resumes
// it) and records each entry's outcome from the batcher's events.
func (f *Facilitator) awaitBatch(hash common.Hash, batch []queued) {
	defer f.wg.Done()
	ticker := time.NewTicker(settlePoll)
	defer ticker.Stop()
	for {
		receipt, err := f.config.Signer.Backend.TransactionReceipt(f.ctx, hash)
		if err == nil {
			if err = f.completeBatch(hash, receipt, batch); err == nil {
				return
			}
		}
		if !errors.Is(err, ethereum.NotFound) && f.ctx.Err() == nil {
			f.config.Logger.Warn("x402 batch receipt", "tx", hash, "error", err)
		}
		select {
		case <-ticker.C:
		case <-f.ctx.Done():
			return
		}
	}
}

// completeBatch records the outcomes of a mined batch, deletes its row
// and releases the entries' reservations, in one write.
func (f *Facilitator) completeBatch(hash common.Hash, receipt *types.Receipt, batch []queued) error {
	outcomes := batchOutcomes(receipt, f.config.Batcher)
	rows := make([]engine.Row, 0, 2*len(batch)+1)
	for i, q := range batch {
		response := x402.SettleResponse{Success: false, ErrorReason: x402.ReasonTransactionFailed,
			ErrorMessage: "the batch transaction reverted", Payer: q.k.from.Hex(), Transaction: hash.Hex(), Network: q.r.Entry.Network}
		if reason, ok := outcomes[q.k.nonceOf()]; ok && reason == nil {
			response = x402.SettleResponse{Success: true, Payer: q.k.from.Hex(), Transaction: hash.Hex(), Network: q.r.Entry.Network,
				Amount: q.r.Value}
		} else if ok {
			response.ErrorMessage = fmt.Sprintf("the token refused the transfer (revert data %s)", hexutil.Encode(reason))
		}
		batch[i].r = terminal(q.r, response)
		value, _ := json.Marshal(batch[i].r)
		rows = append(rows, engine.Row{Key: q.k.row(), Value: value})
		// Each outcome's metrics delta is written with it: counted once.
		rows = append(rows, f.outcomeRows(q.k, batch[i].r)...)
	}
	rows = append(rows, engine.Row{Key: []byte(batchPrefix + hash.Hex())})
	if _, err := f.config.Engine.WriteRows(f.ctx, rows...); err != nil {
		return fmt.Errorf("facilitator: record a batch's outcome: %w", err)
	}
	f.mu.Lock()
	for _, q := range batch {
		f.remove(q.k)
	}
	f.batch.submitted--
	f.notify()
	f.mu.Unlock()
	return nil
}

// completeEntry records one queued authorization's final answer outside a
// batch (expired in the queue).
func (f *Facilitator) completeEntry(k authKey, r record, response x402.SettleResponse) {
	r = terminal(r, response)
	if err := f.store(f.ctx, k, r, f.outcomeRows(k, r)...); err != nil {
		f.config.Logger.Warn("x402: record an expired authorization", "error", err)
		return
	}
	f.mu.Lock()
	f.remove(k)
	f.notify()
	f.mu.Unlock()
}

// terminal is r with its final answer, its signature dropped.
func terminal(r record, response x402.SettleResponse) record {
	if response.Success {
		r.State = StateSettled
	} else {
		r.State = StateFailed
	}
	if r.Settlement == nil {
		r.Settlement = &settlement{}
	}
	r.Settlement.RawTx, r.Settlement.Response = "", &response
	if r.Entry != nil {
		r.Entry = &queuedEntry{Network: r.Entry.Network}
	}
	return r
}

// outcomeKey names an entry in a receipt: its payer and nonce.
type outcomeKey struct {
	from  common.Address
	nonce [32]byte
}

func (k authKey) nonceOf() outcomeKey { return outcomeKey{k.from, k.nonce} }

// batchOutcomes reads the batcher's events of a receipt: per entry, nil
// for settled, the token's revert data for failed (non-nil, maybe empty).
func batchOutcomes(receipt *types.Receipt, batcher common.Address) map[outcomeKey][]byte {
	binding := contracts.NewAuthorizationBatcher()
	outcomes := make(map[outcomeKey][]byte)
	if receipt.Status != types.ReceiptStatusSuccessful {
		return outcomes
	}
	for _, log := range receipt.Logs {
		if log.Address != batcher {
			continue
		}
		if e, err := binding.UnpackAuthorizationSettledEvent(log); err == nil {
			outcomes[outcomeKey{e.From, e.Nonce}] = nil
		} else if e, err := binding.UnpackAuthorizationFailedEvent(log); err == nil {
			outcomes[outcomeKey{e.From, e.Nonce}] = append([]byte{}, e.Reason...)
		}
	}
	return outcomes
}

// resumeBatches, at Open, queues the QUEUED records again, and sends each
// recorded batch's transaction again and awaits it. The sends come before
// Open returns, so no new transaction takes a recorded one's nonce.
func (f *Facilitator) resumeBatches(queue []queued, submitted map[string][]queued) error {
	f.batch.queue = append(f.batch.queue, queue...)
	f.batch.slots += len(queue)
	for hash, batch := range submitted {
		var row batchRow
		key := []byte(batchPrefix + hash)
		found := false
		err := f.config.Engine.ScanRows(key, func(got, value []byte) error {
			if string(got) != string(key) {
				return nil
			}
			found = true
			return json.Unmarshal(value, &row)
		})
		if err != nil || !found {
			return fmt.Errorf("facilitator: the batch %s of %d records is not recorded (%v)", hash, len(batch), err)
		}
		f.resend(f.ctx, record{Settlement: &settlement{TxHash: row.TxHash, RawTx: row.RawTx}})
		f.batch.submitted++
		f.wg.Add(1)
		go f.awaitBatch(common.HexToHash(hash), batch)
	}
	return nil
}

// flush cuts every queued authorization into batches now (tests).
func (f *Facilitator) flush() { f.cut(false) }

// checkBatchConfig completes a batch mode's configuration.
func checkBatchConfig(config *Config) error {
	switch config.Mode {
	case "":
		config.Mode = SettlePerPayment
	case SettlePerPayment, SettleBatch:
	default:
		return fmt.Errorf("facilitator: settle mode %q: want %s or %s", config.Mode, SettlePerPayment, SettleBatch)
	}
	if config.Mode == SettleBatch && config.Batcher == (common.Address{}) {
		return errors.New("facilitator: batch settlement needs the AuthorizationBatcher's address")
	}
	if config.BatchWindow <= 0 {
		config.BatchWindow = BatchWindowDefault
	}
	if config.BatchEntriesMax <= 0 || config.BatchEntriesMax > contracts.X402BatchEntriesMax {
		config.BatchEntriesMax = contracts.X402BatchEntriesMax
	}
	return nil
}

// batchable reports whether a record's state is a batch's.
func batchable(state string) bool { return state == StateQueued || state == StateSubmitted }
