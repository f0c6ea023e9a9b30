package facilitator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tollway/tollway/chain/x402"
	"github.com/tollway/tollway/engine"
)

// Reasons of the payment-identifier extension. The reference defines no
// codes for it (its resource server answers 400 and 409), so these are
// Tollway's.
const (
	// ReasonInvalidPaymentIdentifier: the extension is malformed or its id
	// breaks the format (x402.ValidPaymentID).
	ReasonInvalidPaymentIdentifier = "invalid_payment_identifier"
	// ReasonPaymentIdentifierConflict: the id was used, for the same
	// payTo, with another authorization. Nothing is verified or paid.
	ReasonPaymentIdentifierConflict = "payment_identifier_conflict"
)

// paymentIDPrefix leads the table keys of payment ids: paymentIDPrefix +
// chain id + "/" + payTo + "/" + id. An id is scoped to its payee (the
// merchant that asked for the payment): two merchants' clients may pick
// the same id without colliding, and a payer cannot block another
// merchant's id.
const paymentIDPrefix = "x402/pid/"

// paymentIDRecord is what the table keeps of a payment id: which
// authorization it names (a fingerprint of every signed field), and until
// when (it is forgotten with the authorization's record, RecordRetention
// after its validBefore).
type paymentIDRecord struct {
	Authorization string `json:"authorization"`
	ValidBefore   int64  `json:"validBefore"`
}

// paymentClaim is a request's payment id, resolved and locked: the zero
// claim (no id) writes nothing and releases nothing.
type paymentClaim struct {
	key      []byte // nil: the request has no id (or no authorization)
	record   paymentIDRecord
	recorded bool // the table has the id, for this authorization
	payer    string
	release  func()
}

// rows returns the row that records the id, unless the table has it.
func (c *paymentClaim) rows() []engine.Row {
	if c == nil || c.key == nil || c.recorded {
		return nil
	}
	value, _ := json.Marshal(c.record)
	return []engine.Row{{Key: c.key, Value: value}}
}

// done releases the claim's lock.
func (c *paymentClaim) done() {
	if c.release != nil {
		c.release()
	}
}

// errPaymentID carries the reason a request's payment id refuses it.
type errPaymentID struct{ reason, message string }

func (e *errPaymentID) Error() string { return e.reason + ": " + e.message }

// claimPaymentID resolves the request's payment id and locks it (the
// caller calls done). An *errPaymentID refuses the request: the id is
// invalid, or taken by another authorization. Any other error is the
// table's.
func (f *Facilitator) claimPaymentID(request *x402.Request) (*paymentClaim, error) {
	id, err := request.PaymentIdentifier()
	if err != nil {
		return nil, &errPaymentID{ReasonInvalidPaymentIdentifier, err.Error()}
	}
	if id == "" {
		return &paymentClaim{}, nil
	}
	network, token, a, ok := f.config.Verifier.Identify(request)
	if !ok {
		// No authorization to name: verification refuses the request and
		// records nothing, so there is nothing to claim.
		return &paymentClaim{}, nil
	}
	key := fmt.Appendf(nil, "%s%d/%s/%s", paymentIDPrefix, network.ChainID.Uint64(), a.To.Hex(), id)
	fingerprint := sha256.Sum256(fmt.Appendf(nil, "%d/%s/%s/%s/%s/%s/%s/%x", network.ChainID.Uint64(), token.Hex(),
		a.From.Hex(), a.To.Hex(), a.Value, a.ValidAfter, a.ValidBefore, a.Nonce))
	c := &paymentClaim{key: key, payer: a.From.Hex(),
		record: paymentIDRecord{Authorization: hex.EncodeToString(fingerprint[:]), ValidBefore: a.ValidBefore.Int64()}}
	c.release = f.paymentIDs.lock(string(key))
	stored, found, err := f.loadPaymentID(key)
	switch {
	case err != nil:
		c.done()
		return nil, err
	case found && stored.Authorization != c.record.Authorization:
		c.done()
		return nil, &errPaymentID{ReasonPaymentIdentifierConflict,
			fmt.Sprintf("payment id %q names another authorization for this payTo", id)}
	}
	c.recorded = found
	return c, nil
}

// loadPaymentID reads a payment id's record.
func (f *Facilitator) loadPaymentID(key []byte) (paymentIDRecord, bool, error) {
	var r paymentIDRecord
	found := false
	err := f.config.Engine.ScanRows(key, func(got, value []byte) error {
		if string(got) != string(key) {
			return nil
		}
		found = true
		return json.Unmarshal(value, &r)
	})
	if err != nil {
		return paymentIDRecord{}, false, fmt.Errorf("facilitator: read payment id: %w", err)
	}
	return r, found, nil
}

// recordPaymentID writes a claim's id on its own: its authorization was
// recorded before, without it.
func (f *Facilitator) recordPaymentID(ctx context.Context, c *paymentClaim) error {
	rows := c.rows()
	if len(rows) == 0 {
		return nil
	}
	if _, err := f.config.Engine.WriteRows(ctx, rows...); err != nil {
		return fmt.Errorf("facilitator: record payment id: %w", err)
	}
	c.recorded = true
	return nil
}

// Verify verifies a payment (verify, below) once per payment id: a
// request with the payment-identifier extension whose id was recorded for
// the same authorization answers the first verification (valid) while
// the authorization is unexpired; with another authorization it is
// refused (payment_identifier_conflict); an invalid id is refused
// (invalid_payment_identifier). A verification that fails records
// nothing, the id included: a retry verifies afresh.
func (f *Facilitator) Verify(ctx context.Context, request *x402.Request) (x402.VerifyResponse, error) {
	claim, err := f.claimPaymentID(request)
	if refusal := (*errPaymentID)(nil); errors.As(err, &refusal) {
		return x402.VerifyResponse{IsValid: false, InvalidReason: refusal.reason, InvalidMessage: refusal.message,
			Payer: payerOf(f.config.Verifier, request)}, nil
	} else if err != nil {
		return x402.VerifyResponse{}, err
	}
	defer claim.done()
	if claim.recorded && claim.record.ValidBefore > f.config.Now().Unix() {
		return x402.VerifyResponse{IsValid: true, Payer: claim.payer}, nil
	}
	return f.verify(ctx, request, claim)
}

// refuseSettle answers a settle that a payment id refuses.
func (f *Facilitator) refuseSettle(request *x402.Request, refusal *errPaymentID) x402.SettleResponse {
	return x402.SettleResponse{Success: false, ErrorReason: refusal.reason, ErrorMessage: refusal.message,
		Payer: payerOf(f.config.Verifier, request), Network: request.Payment().Network}
}

// payerOf is the request's payer, when its authorization parses.
func payerOf(v *x402.Verifier, request *x402.Request) string {
	if _, _, a, ok := v.Identify(request); ok {
		return a.From.Hex()
	}
	return ""
}

// forgetPaymentIDs deletes the payment ids past RecordRetention, as Open
// does records.
func (f *Facilitator) forgetPaymentIDs(ctx context.Context, now time.Time) error {
	var stale []engine.Row
	err := f.config.Engine.ScanRows([]byte(paymentIDPrefix), func(key, value []byte) error {
		var r paymentIDRecord
		if err := json.Unmarshal(value, &r); err != nil {
			return fmt.Errorf("facilitator: corrupt payment id %q", key)
		}
		if r.ValidBefore+int64(RecordRetention/time.Second) < now.Unix() {
			stale = append(stale, engine.Row{Key: append([]byte(nil), key...)})
		}
		return nil
	})
	for err == nil && len(stale) > 0 {
		n := min(len(stale), gcRowsPerWrite)
		_, err = f.config.Engine.WriteRows(ctx, stale[:n]...)
		stale = stale[n:]
	}
	if err != nil {
		return fmt.Errorf("facilitator: forget old payment ids: %w", err)
	}
	return nil
}
