package facilitator

import (
	"math/big"
	"strconv"
	"time"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/x402metrics"
)

// countRows returns the x402metrics delta that counts an authorization's
// transition (kind) for owner, to be written with the record that makes
// the transition: none without an owner.
func countRows(owner string, k authKey, kind x402metrics.Kind, value string, at time.Time) []engine.Row {
	amount, ok := new(big.Int).SetString(value, 10)
	if owner == "" || !ok {
		return nil
	}
	network := "eip155:" + strconv.FormatUint(k.chain, 10)
	row, ok := x402metrics.DeltaRow(owner, network, k.row(), kind, amount, at)
	if !ok {
		return nil
	}
	return []engine.Row{row}
}

// outcomeRows counts a record's final state (StateSettled or StateFailed).
func (f *Facilitator) outcomeRows(k authKey, r record) []engine.Row {
	kind := x402metrics.KindFailed
	if r.State == StateSettled {
		kind = x402metrics.KindSettled
	}
	return countRows(r.Owner, k, kind, r.Value, f.config.Now())
}
