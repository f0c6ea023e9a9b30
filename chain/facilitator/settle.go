package facilitator

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollway/tollway/chain/contracts"
	"github.com/tollway/tollway/chain/x402"
	"github.com/tollway/tollway/engine"
)

// Settlement states of a recorded authorization, after StateVerified.
const (
	// StateSettling: its transaction is signed and recorded (and sent, or
	// about to be: a restart sends the recorded bytes again).
	StateSettling = "SETTLING"
	// StateSettled and StateFailed keep the answer every retry gets.
	StateSettled = "SETTLED"
	StateFailed  = "FAILED"
)

// ReasonSettlementPending answers a settle whose transaction is not mined
// within SettleWait: not an error, and not final: a retry returns the
// outcome once known.
const ReasonSettlementPending = "settlement_pending"

// SettleWaitDefault is how long Settle waits for its receipt.
const SettleWaitDefault = 30 * time.Second

// ErrNoSigner refuses a settle when the facilitator has no key to send it.
var ErrNoSigner = errors.New("facilitator: no signer configured: settlement unavailable")

// Backend is what settling needs of a node (go-ethereum's ethclient).
type Backend interface {
	ethereum.GasEstimator
	ethereum.GasPricer1559
	ethereum.TransactionSender
	ethereum.TransactionReader
	ethereum.PendingStateReader
	ethereum.ContractCaller
	HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error)
	NonceAt(ctx context.Context, account common.Address, blockNumber *big.Int) (uint64, error)
}

// Signer sends settlements: transferWithAuthorization from its own key,
// with its own nonces.
type Signer struct {
	Key     *ecdsa.PrivateKey
	Backend Backend
	ChainID *big.Int

	mu      sync.Mutex // orders nonces: sign, record, send
	nonce   uint64
	nonceOK bool
}

// Address is the signer's address (x402 /supported's signers).
func (s *Signer) Address() common.Address { return crypto.PubkeyToAddress(s.Key.PublicKey) }

// settlement is what a record keeps of its transaction and answer.
type settlement struct {
	Nonce    uint64               `json:"nonce,omitempty"`
	TxHash   string               `json:"txHash,omitempty"`
	RawTx    string               `json:"rawTx,omitempty"`
	Response *x402.SettleResponse `json:"response,omitempty"`
}

// Settle settles a payment once: the first call verifies it (unless this
// facilitator verified it already), signs its transferWithAuthorization,
// records it (SETTLING) and sends it, then waits for its receipt; every
// later call for the same authorization gets the recorded outcome (or,
// while the transaction is in flight, waits for it too). The token's own
// nonce makes a second payment impossible; the record makes a retry after
// a timeout see the first outcome rather than a failure.
//
// In batch mode (SettleBatch) the first call records the authorization
// QUEUED and answers success at once, with the batch's transaction once
// one is signed; a later call answers the same until the batch's outcome
// is recorded, then that outcome.
func (f *Facilitator) Settle(ctx context.Context, request *x402.Request) (x402.SettleResponse, error) {
	return f.settle(ctx, request, false)
}

// SettleFinal is Settle for a caller that wants the outcome on chain: in
// batch mode it waits up to SettleWait for the batch's receipt and answers
// settlement_pending (with the transaction once known) while it is not
// mined. In per-payment mode it is Settle, which waits already.
func (f *Facilitator) SettleFinal(ctx context.Context, request *x402.Request) (x402.SettleResponse, error) {
	return f.settle(ctx, request, true)
}

func (f *Facilitator) settle(ctx context.Context, request *x402.Request, final bool) (x402.SettleResponse, error) {
	claim, err := f.claimPaymentID(request)
	if refusal := (*errPaymentID)(nil); errors.As(err, &refusal) {
		return f.refuseSettle(request, refusal), nil
	} else if err != nil {
		return x402.SettleResponse{}, err
	}
	defer claim.done()
	network, token, a, ok := f.config.Verifier.Identify(request)
	if !ok {
		// Not even an authorization: verification says why.
		v, err := f.config.Verifier.Verify(ctx, request)
		return failedSettle(v.Response, request), err
	}
	if f.config.Signer == nil {
		return x402.SettleResponse{}, ErrNoSigner
	}
	k := authKey{chain: network.ChainID.Uint64(), token: token, from: a.From, nonce: a.Nonce}
	unlock := sync.OnceFunc(f.lockAuthorization(k))
	defer unlock()
	r, found, err := f.load(k)
	if err != nil {
		return x402.SettleResponse{}, err
	}
	if !found {
		response, err := f.verify(ctx, request, claim)
		if err != nil || !response.IsValid {
			return failedSettle(response, request), err
		}
		if r, _, err = f.load(k); err != nil {
			return x402.SettleResponse{}, err
		}
	} else if err := f.recordPaymentID(ctx, claim); err != nil {
		return x402.SettleResponse{}, err
	}
	switch {
	case r.State == StateSettled || r.State == StateFailed:
		return *r.Settlement.Response, nil
	case r.State == StateSettling:
		f.resend(ctx, r) // a node may have dropped it
		return f.await(ctx, k, r, network.ID)
	case batchable(r.State):
		unlock() // the batcher moves it on; waiting needs no lock
		return f.answerBatched(ctx, k, r, final)
	case f.config.Mode == SettleBatch && r.ValidBefore > f.config.Now().Add(f.config.BatchWindow+batchExpiryMargin).Unix():
		if r, err = f.enqueue(ctx, k, r, a, network.ID); err != nil {
			return x402.SettleResponse{}, err
		}
		unlock()
		return f.answerBatched(ctx, k, r, final)
	}
	// Per payment; in batch mode too for an authorization that could
	// expire before its batch is mined: answered with its receipt rather
	// than a success its batch may not keep.
	return f.submit(ctx, k, r, a, token, network.ID)
}

// failedSettle is a settle answer for a payment that did not verify.
func failedSettle(v x402.VerifyResponse, request *x402.Request) x402.SettleResponse {
	return x402.SettleResponse{Success: false, ErrorReason: v.InvalidReason, ErrorMessage: v.InvalidMessage, Payer: v.Payer,
		Network: request.Payment().Network}
}

// lockAuthorization serializes the settles of one authorization.
func (f *Facilitator) lockAuthorization(k authKey) func() { return f.settles.lock(k) }

// load reads an authorization's record.
func (f *Facilitator) load(k authKey) (record, bool, error) {
	key := k.row()
	var r record
	found := false
	err := f.config.Engine.ScanRows(key, func(got, value []byte) error {
		if string(got) != string(key) {
			return nil
		}
		found = true
		return json.Unmarshal(value, &r)
	})
	if err != nil {
		return record{}, false, fmt.Errorf("facilitator: read authorization: %w", err)
	}
	return r, found, nil
}

// store writes an authorization's record, and extra rows with it.
func (f *Facilitator) store(ctx context.Context, k authKey, r record, extra ...engine.Row) error {
	value, _ := json.Marshal(r)
	if _, err := f.config.Engine.WriteRows(ctx, append([]engine.Row{{Key: k.row(), Value: value}}, extra...)...); err != nil {
		return fmt.Errorf("facilitator: record authorization: %w", err)
	}
	return nil
}

// submit signs the authorization's settlement with the signer's next
// nonce, records it SETTLING, sends it and awaits it.
func (f *Facilitator) submit(ctx context.Context, k authKey, r record, a *x402.Authorization, token common.Address, network string) (x402.SettleResponse, error) {
	s := f.config.Signer
	data := x402.SettleCallData(a)
	gas, err := s.Backend.EstimateGas(ctx, ethereum.CallMsg{From: s.Address(), To: &token, Data: data})
	if err != nil {
		if !strings.Contains(err.Error(), "revert") {
			return x402.SettleResponse{}, fmt.Errorf("facilitator: estimate settlement gas: %w", err)
		}
		return f.finish(ctx, k, r, x402.SettleResponse{Success: false, ErrorReason: x402.ReasonTransactionFailed,
			ErrorMessage: "the token refuses the transfer: " + err.Error(), Payer: a.From.Hex(), Network: network})
	}
	s.mu.Lock()
	tx, err := s.sign(ctx, token, gas+gas/5, data)
	if err == nil {
		var raw []byte
		raw, err = tx.MarshalBinary()
		r.State = StateSettling
		r.Settlement = &settlement{Nonce: tx.Nonce(), TxHash: tx.Hash().Hex(), RawTx: hexutil.Encode(raw)}
		if err == nil {
			err = f.store(ctx, k, r)
		}
		if err == nil {
			s.nonce++
			if f.config.AfterStage != nil {
				f.config.AfterStage("x402-recorded")
			}
			if sendErr := s.Backend.SendTransaction(ctx, tx); sendErr != nil && !isKnown(sendErr) {
				s.nonceOK = false // learn the node's view again before the next
				f.config.Logger.Warn("x402 settlement send", "tx", tx.Hash(), "error", sendErr)
			}
		}
	}
	s.mu.Unlock()
	if err != nil {
		return x402.SettleResponse{}, err
	}
	return f.await(ctx, k, r, network)
}

// sign signs a call to token with the next nonce. REQUIRES: s.mu held.
func (s *Signer) sign(ctx context.Context, token common.Address, gas uint64, data []byte) (*types.Transaction, error) {
	if !s.nonceOK {
		nonce, err := s.Backend.PendingNonceAt(ctx, s.Address())
		if err != nil {
			return nil, fmt.Errorf("facilitator: signer nonce: %w", err)
		}
		s.nonce, s.nonceOK = nonce, true
	}
	tip, err := s.Backend.SuggestGasTipCap(ctx)
	if err != nil {
		return nil, fmt.Errorf("facilitator: tip: %w", err)
	}
	head, err := s.Backend.HeaderByNumber(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("facilitator: head: %w", err)
	}
	feeCap := new(big.Int).Set(tip)
	if head.BaseFee != nil {
		feeCap.Add(feeCap, new(big.Int).Mul(head.BaseFee, big.NewInt(2)))
	}
	tx, err := types.SignNewTx(s.Key, types.LatestSignerForChainID(s.ChainID), &types.DynamicFeeTx{
		ChainID: s.ChainID, Nonce: s.nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: gas, To: &token, Data: data,
	})
	if err != nil {
		return nil, fmt.Errorf("facilitator: sign settlement: %w", err)
	}
	return tx, nil
}

// await waits up to SettleWait for a SETTLING record's receipt and records
// the outcome; still unmined, it answers settlement_pending (a retry gets
// the outcome).
func (f *Facilitator) await(ctx context.Context, k authKey, r record, network string) (x402.SettleResponse, error) {
	hash := common.HexToHash(r.Settlement.TxHash)
	payer := k.from.Hex()
	wait, cancel := context.WithTimeout(ctx, f.config.SettleWait)
	defer cancel()
	ticker := time.NewTicker(settlePoll)
	defer ticker.Stop()
	var checked time.Time // when the transaction was last checked for a taken nonce
	for {
		receipt, err := f.config.Signer.Backend.TransactionReceipt(wait, hash)
		if errors.Is(err, ethereum.NotFound) && time.Since(checked) >= deadCheckEvery {
			checked = time.Now()
			switch dead, deadErr := f.dead(wait, k, r); {
			case deadErr != nil && wait.Err() == nil:
				f.config.Logger.Warn("x402 settlement: check its nonce", "tx", hash, "error", deadErr)
			case dead:
				resigned, resignErr := f.resign(wait, k, r)
				if resignErr != nil {
					f.config.Logger.Warn("x402 settlement: sign again", "tx", hash, "error", resignErr)
					break
				}
				f.config.Logger.Warn("x402 settlement: its nonce was taken by another transaction of the signer; signed again",
					"tx", hash, "new", resigned.Settlement.TxHash)
				r, hash = resigned, common.HexToHash(resigned.Settlement.TxHash)
				continue
			}
		}
		switch {
		case err == nil && receipt.Status == types.ReceiptStatusSuccessful:
			return f.finish(ctx, k, r, x402.SettleResponse{Success: true, Payer: payer, Transaction: hash.Hex(),
				Network: network, Amount: r.Value})
		case err == nil:
			return f.finish(ctx, k, r, x402.SettleResponse{Success: false, ErrorReason: x402.ReasonTransactionFailed,
				ErrorMessage: "the settlement transaction reverted", Payer: payer, Transaction: hash.Hex(), Network: network})
		case !errors.Is(err, ethereum.NotFound) && wait.Err() == nil:
			f.config.Logger.Warn("x402 settlement receipt", "tx", hash, "error", err)
		}
		select {
		case <-ticker.C:
		case <-wait.Done():
			return x402.SettleResponse{Success: false, ErrorReason: ReasonSettlementPending,
				ErrorMessage: "the settlement transaction is not mined yet: ask again", Payer: payer, Transaction: hash.Hex(), Network: network}, nil
		}
	}
}

// settlePoll is how often await asks for the receipt; deadCheckEvery how
// often, while there is none, it asks whether the transaction can still be
// mined at all.
const (
	settlePoll     = 50 * time.Millisecond
	deadCheckEvery = time.Second
)

// dead reports whether a SETTLING record's transaction can never be mined:
// the signer's nonce on chain has passed the transaction's (another
// transaction of the key took it: a second process with the key, a
// replacement sent by hand), its receipt is not there, and the token says
// the authorization is unused, so no transaction executed it. The nonce is
// read before the receipt, so a transaction mined between the two reads is
// seen by the second.
func (f *Facilitator) dead(ctx context.Context, k authKey, r record) (bool, error) {
	s := f.config.Signer
	mined, err := s.Backend.NonceAt(ctx, s.Address(), nil)
	if err != nil || mined <= r.Settlement.Nonce {
		return false, err
	}
	_, err = s.Backend.TransactionReceipt(ctx, common.HexToHash(r.Settlement.TxHash))
	if !errors.Is(err, ethereum.NotFound) {
		return false, err // mined after all (err nil), or unknown
	}
	token := k.token
	answer, err := s.Backend.CallContract(ctx, ethereum.CallMsg{To: &token, Data: tokenABI.PackAuthorizationState(k.from, k.nonce)}, nil)
	if err != nil {
		return false, fmt.Errorf("authorizationState: %w", err)
	}
	used, err := tokenABI.UnpackAuthorizationState(answer)
	if err != nil {
		return false, fmt.Errorf("authorizationState: %w", err)
	}
	return !used, nil
}

// tokenABI packs the EIP-3009 token's calls (TestUSDC's ABI, whose
// functions used here are FiatToken's).
var tokenABI = contracts.NewTestUSDC()

// resign signs a dead SETTLING record's call again with the signer's next
// nonce, records it (the dead transaction can never be mined, so only one
// of the two can pay) and sends it.
func (f *Facilitator) resign(ctx context.Context, k authKey, r record) (record, error) {
	dead := new(types.Transaction)
	raw, err := hexutil.Decode(r.Settlement.RawTx)
	if err == nil {
		err = dead.UnmarshalBinary(raw)
	}
	if err != nil || dead.To() == nil {
		return record{}, fmt.Errorf("facilitator: corrupt recorded settlement %s: %v", r.Settlement.TxHash, err)
	}
	s := f.config.Signer
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nonceOK = false // the node's view: ours was taken
	tx, err := s.sign(ctx, *dead.To(), dead.Gas(), dead.Data())
	if err != nil {
		return record{}, err
	}
	if raw, err = tx.MarshalBinary(); err != nil {
		return record{}, fmt.Errorf("facilitator: encode settlement: %w", err)
	}
	r.Settlement = &settlement{Nonce: tx.Nonce(), TxHash: tx.Hash().Hex(), RawTx: hexutil.Encode(raw)}
	if err := f.store(ctx, k, r); err != nil {
		return record{}, err
	}
	s.nonce++
	if err := s.Backend.SendTransaction(ctx, tx); err != nil && !isKnown(err) {
		s.nonceOK = false
		f.config.Logger.Warn("x402 settlement send", "tx", tx.Hash(), "error", err)
	}
	return r, nil
}

// finish records a settlement's final answer and releases its reservation.
func (f *Facilitator) finish(ctx context.Context, k authKey, r record, response x402.SettleResponse) (x402.SettleResponse, error) {
	// The outcome's metrics delta is written with it: counted once.
	r = terminal(r, response)
	if err := f.store(ctx, k, r, f.outcomeRows(k, r)...); err != nil {
		return x402.SettleResponse{}, err
	}
	f.mu.Lock()
	f.remove(k)
	f.mu.Unlock()
	return response, nil
}

// resend sends a SETTLING record's transaction again; a node that has it
// (or has mined its nonce) says so, which is fine.
func (f *Facilitator) resend(ctx context.Context, r record) {
	tx := new(types.Transaction)
	raw, err := hexutil.Decode(r.Settlement.RawTx)
	if err == nil {
		err = tx.UnmarshalBinary(raw)
	}
	if err != nil {
		f.config.Logger.Error("x402: corrupt recorded settlement", "tx", r.Settlement.TxHash, "error", err)
		return
	}
	if err := f.config.Signer.Backend.SendTransaction(ctx, tx); err != nil && !isKnown(err) {
		f.config.Logger.Warn("x402: resend settlement", "tx", tx.Hash(), "error", err)
	}
}

// resume sends the recorded transactions of SETTLING records again after a
// restart and records their outcomes.
func (f *Facilitator) resume(pending map[authKey]record) {
	for k, r := range pending {
		f.resend(f.ctx, r)
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			unlock := f.lockAuthorization(k)
			defer unlock()
			if current, found, err := f.load(k); err == nil && found && current.State == StateSettling {
				if _, err := f.await(f.ctx, k, current, fmt.Sprintf("eip155:%d", k.chain)); err != nil && f.ctx.Err() == nil {
					f.config.Logger.Warn("x402: resumed settlement", "tx", current.Settlement.TxHash, "error", err)
				}
			}
		}()
	}
}

// isKnown reports whether a node refused a transaction it already has, or
// whose nonce is mined.
func isKnown(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "already known") || strings.Contains(msg, "nonce too low") || strings.Contains(msg, "known transaction")
}
