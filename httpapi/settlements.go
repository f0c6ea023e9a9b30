package httpapi

import (
	"errors"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/chain/relay"
	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
)

// Settlements page sizes.
const (
	SettlementsPageDefault = 20
	SettlementsPageMax     = relay.ListMax
)

// settlementJSON is a settlement batch as API.md describes it. Entries are
// those of the reader's accounts only: a batch also settles other users'
// pairs, whose amounts are theirs (the chain shows them, the API does not).
type settlementJSON struct {
	ID          string            `json:"id"`
	State       relay.State       `json:"state"`
	BatchID     string            `json:"batchId"`
	TxHash      *string           `json:"txHash"`
	BlockNumber *uint64           `json:"blockNumber"`
	Entries     []settlementEntry `json:"entries"`
	CreatedAt   time.Time         `json:"createdAt"`
	ConfirmedAt *time.Time        `json:"confirmedAt"`
	Error       string            `json:"error,omitempty"`
}

type settlementEntry struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Amount string `json:"amount"`
	Fee    string `json:"fee"`
	Payer  string `json:"payer"` // the accounts the wallets are bound to
	Payee  string `json:"payee"`
}

func settlementView(s *relay.Settlement, reader func(engine.AccountID) bool) settlementJSON {
	v := settlementJSON{ID: s.ID, State: s.State, BatchID: s.BatchID.Hex(), CreatedAt: s.CreatedAt, Error: s.Error,
		Entries: []settlementEntry{}}
	switch {
	case s.TxHash != (common.Hash{}):
		hash := s.TxHash.Hex()
		v.TxHash = &hash
	case len(s.TxHashes) > 0:
		hash := s.TxHashes[len(s.TxHashes)-1].Hex()
		v.TxHash = &hash
	}
	if s.State == relay.Confirmed {
		if s.BlockNumber != 0 {
			v.BlockNumber = &s.BlockNumber
		}
		v.ConfirmedAt = &s.ConfirmedAt
	}
	for _, e := range s.Entries {
		if reader(e.Payer) || reader(e.Payee) {
			v.Entries = append(v.Entries, settlementEntry{From: e.From.Hex(), To: e.To.Hex(), Amount: e.Amount.String(),
				Fee: e.Fee.String(), Payer: string(e.Payer), Payee: string(e.Payee)})
		}
	}
	return v
}

var errNoSettlements = notFound("settlement")

// listSettlements is GET /v1/settlements?account=…: the batches an account
// pays or is paid in, newest first. A key reads its own account's (the
// parameter may name it); a user's JWT names one of the user's accounts.
func (s *Server) listSettlements(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	reader, apiErr := s.accountReaderOf(ctx, access.ScopeSettlementsRead)
	if apiErr != nil {
		return apiErr
	}
	args := ctx.QueryArgs()
	fields := map[string]string{}
	account := reader.account(args, fields)
	limit := readPageLimit(args, fields, SettlementsPageDefault, SettlementsPageMax)
	after := string(args.Peek("startingAfter"))
	if _, ok := relay.ParseSettlementID(after); after != "" && !ok {
		fields["startingAfter"] = "must be a settlement id (stl_…)"
	}
	if len(fields) > 0 {
		return validation(fields)
	}
	if apiErr := reader.checkAccount(account); apiErr != nil {
		return apiErr
	}
	out := struct {
		Data              []settlementJSON `json:"data"`
		HasMore           bool             `json:"hasMore"`
		NextStartingAfter *string          `json:"nextStartingAfter"`
	}{Data: []settlementJSON{}}
	if s.config.Settlements != nil {
		page, next, err := s.config.Settlements.List(account, after, limit)
		if err != nil {
			return errorOf(err, "settlement")
		}
		only := func(a engine.AccountID) bool { return a == account }
		for _, settlement := range page {
			out.Data = append(out.Data, settlementView(settlement, only))
		}
		if next != "" {
			out.HasMore, out.NextStartingAfter = true, &next
		}
	}
	s.writeJSON(ctx, fasthttp.StatusOK, out)
	return nil
}

// getSettlement is GET /v1/settlements/{id}: a batch the reader's accounts
// are in (any other does not exist, as far as the reader knows).
func (s *Server) getSettlement(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	reader, apiErr := s.accountReaderOf(ctx, access.ScopeSettlementsRead)
	if apiErr != nil {
		return apiErr
	}
	if s.config.Settlements == nil {
		return errNoSettlements
	}
	settlement, err := s.config.Settlements.Get(pathID(ctx))
	if errors.Is(err, engine.ErrNotFound) {
		return errNoSettlements
	}
	if err != nil {
		return errorOf(err, "settlement")
	}
	view := settlementView(settlement, reader.reads)
	if len(view.Entries) == 0 {
		return errNoSettlements
	}
	s.writeJSON(ctx, fasthttp.StatusOK, view)
	return nil
}

// settlementOf returns the id of the batch that settles a debit from payer
// to payee made at at, or "" (none yet, or no chain).
func (s *Server) settlementOf(payer, payee engine.AccountID, at time.Time) string {
	if s.config.Settlements == nil {
		return ""
	}
	id, ok, err := s.config.Settlements.Of(payer, payee, at)
	if err != nil {
		s.logger.Warn("settlement lookup", "error", err)
		return ""
	}
	if !ok {
		return ""
	}
	return id
}
