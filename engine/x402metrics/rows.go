package x402metrics

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/usage"
)

// Table keys. An owner's rows share a prefix and sort by day, so a query
// scans its owner's range only.
//
//	deltaPrefix + owner/day/network/authorization/kind -> delta
//	dayPrefix + owner/day/network                      -> Totals
//	allPrefix + owner/network                          -> Totals (all time)
//
// day is YYYY-MM-DD (UTC), which sorts as dates do.
const (
	deltaPrefix = "x402/metrics/d/"
	dayPrefix   = "x402/metrics/t/"
	allPrefix   = "x402/metrics/a/"
	// namePartBytesMax bounds an owner's and a network's part of a key,
	// so that every key fits engine.RowKeyBytesMax.
	namePartBytesMax = 80
	// authorizationIDHex is the length of a delta's authorization part:
	// half of a SHA-256, as hex.
	authorizationIDHex = 32
)

// Kind is what a delta counts.
type Kind byte

// Kinds of deltas.
const (
	KindVerified Kind = 'v' // an authorization verified valid and recorded
	KindSettled  Kind = 's' // its settlement succeeded
	KindFailed   Kind = 'f' // its settlement failed
)

func (k Kind) valid() bool { return k == KindVerified || k == KindSettled || k == KindFailed }

// amountMax bounds every amount: 2^64 values of 2^256 - 1 at most.
var amountMax = new(big.Int).Lsh(big.NewInt(1), 320)

// ErrCorrupt reports a metrics row that does not decode, or totals past
// amountMax: the table is not what this package wrote.
var ErrCorrupt = errors.New("x402metrics: corrupt row")

// ownerKey is the context key of WithOwner.
type ownerKey struct{}

// WithOwner returns ctx carrying the owner (user id) the facilitator's
// counts in it are attributed to.
func WithOwner(ctx context.Context, owner string) context.Context {
	return context.WithValue(ctx, ownerKey{}, owner)
}

// OwnerOf returns the owner WithOwner put in ctx, or "" (unattributed).
func OwnerOf(ctx context.Context) string {
	owner, _ := ctx.Value(ownerKey{}).(string)
	return owner
}

// delta is a delta row's value: when it was written and the amount.
type delta struct {
	At     int64  `json:"at"` // unix seconds
	Amount string `json:"amount"`
}

// validPart reports whether s can be a part of a key.
func validPart(s string) bool {
	return s != "" && len(s) <= namePartBytesMax && !strings.ContainsAny(s, "/\x00")
}

// DeltaRow is the row that counts one transition (kind) of an
// authorization (named by any bytes unique to it, such as its record's
// key) for owner on network, at, of amount base units. ok is false when
// there is nothing to count: no owner, or an owner, network or amount this
// package cannot key or hold (the facilitator then writes its record
// alone).
func DeltaRow(owner, network string, authorization []byte, kind Kind, amount *big.Int, at time.Time) (engine.Row, bool) {
	if !validPart(owner) || !validPart(network) || !kind.valid() || amount == nil || amount.Sign() < 0 || amount.BitLen() > 256 {
		return engine.Row{}, false
	}
	sum := sha256.Sum256(authorization)
	key := fmt.Appendf(nil, "%s%s/%s/%s/%s/%c", deltaPrefix, owner, at.UTC().Format(time.DateOnly), network,
		hex.EncodeToString(sum[:authorizationIDHex/2]), kind)
	value, _ := json.Marshal(delta{At: at.Unix(), Amount: amount.String()})
	return engine.Row{Key: key, Value: value}, true
}

// deltaKey is a parsed delta key.
type deltaKey struct {
	owner, network string
	day            usage.Day
	kind           Kind
}

// parseDate parses a key's day.
func parseDate(s string) (usage.Day, bool) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, false
	}
	return usage.DayOf(t), true
}

// dateOf formats a day as keys do.
func dateOf(day usage.Day) string { return day.Time().Format(time.DateOnly) }

func parseDeltaKey(key []byte) (deltaKey, error) {
	parts := strings.Split(strings.TrimPrefix(string(key), deltaPrefix), "/")
	if len(parts) != 5 || len(parts[4]) != 1 || !Kind(parts[4][0]).valid() {
		return deltaKey{}, fmt.Errorf("%w: delta key %q", ErrCorrupt, key)
	}
	day, ok := parseDate(parts[1])
	if !ok {
		return deltaKey{}, fmt.Errorf("%w: delta key %q", ErrCorrupt, key)
	}
	return deltaKey{owner: parts[0], day: day, network: parts[2], kind: Kind(parts[4][0])}, nil
}

func parseDelta(key, value []byte) (deltaKey, delta, *big.Int, error) {
	k, err := parseDeltaKey(key)
	if err != nil {
		return deltaKey{}, delta{}, nil, err
	}
	var d delta
	if err := json.Unmarshal(value, &d); err != nil {
		return deltaKey{}, delta{}, nil, fmt.Errorf("%w: delta %q: %v", ErrCorrupt, key, err)
	}
	amount, ok := new(big.Int).SetString(d.Amount, 10)
	if !ok || amount.Sign() < 0 || amount.BitLen() > 256 {
		return deltaKey{}, delta{}, nil, fmt.Errorf("%w: delta %q: amount %q", ErrCorrupt, key, d.Amount)
	}
	return k, d, amount, nil
}

// dayRowKey and allRowKey name totals rows.
func dayRowKey(owner string, day usage.Day, network string) []byte {
	return fmt.Appendf(nil, "%s%s/%s/%s", dayPrefix, owner, dateOf(day), network)
}

func allRowKey(owner, network string) []byte {
	return fmt.Appendf(nil, "%s%s/%s", allPrefix, owner, network)
}

// parseDayRowKey returns a day row's day and network, under prefix (its
// owner's).
func parseDayRowKey(key []byte, prefix string) (usage.Day, string, error) {
	date, network, ok := strings.Cut(strings.TrimPrefix(string(key), prefix), "/")
	day, okDay := parseDate(date)
	if !ok || !okDay || network == "" {
		return 0, "", fmt.Errorf("%w: totals key %q", ErrCorrupt, key)
	}
	return day, network, nil
}

// Tally is a count of authorizations and the sum of their values.
type Tally struct {
	Count  uint64
	Amount *big.Int // never nil once through this package
}

// Totals are the counts of a span (a day, a month, all time) on a network.
type Totals struct {
	Verified Tally // valid verifications recorded
	Settled  Tally // settlements that succeeded
	Failed   Tally // settlements that failed (their value was not paid)
}

// tally returns the tally of kind.
func (t *Totals) tally(kind Kind) *Tally {
	switch kind {
	case KindVerified:
		return &t.Verified
	case KindSettled:
		return &t.Settled
	default:
		return &t.Failed
	}
}

// errOverflow refuses totals past amountMax or a count past 2^64.
var errOverflow = fmt.Errorf("%w: totals overflow", ErrCorrupt)

// add adds count and amount to t.
func (t *Tally) add(count uint64, amount *big.Int) error {
	sum := new(big.Int).Add(t.amount(), amount)
	if t.Count+count < t.Count || sum.Cmp(amountMax) >= 0 {
		return errOverflow
	}
	t.Count, t.Amount = t.Count+count, sum
	return nil
}

func (t *Tally) amount() *big.Int {
	if t.Amount == nil {
		return new(big.Int)
	}
	return t.Amount
}

// Add adds o to t.
func (t *Totals) Add(o Totals) error {
	for _, kind := range []Kind{KindVerified, KindSettled, KindFailed} {
		other := o.tally(kind)
		if err := t.tally(kind).add(other.Count, other.amount()); err != nil {
			return err
		}
	}
	return nil
}

// normalize gives every tally a non-nil Amount.
func (t *Totals) normalize() {
	for _, kind := range []Kind{KindVerified, KindSettled, KindFailed} {
		tally := t.tally(kind)
		tally.Amount = tally.amount()
	}
}

// totalsJSON is a totals row's value.
type totalsJSON struct {
	Verified tallyJSON `json:"verified"`
	Settled  tallyJSON `json:"settled"`
	Failed   tallyJSON `json:"failed"`
}

type tallyJSON struct {
	Count  uint64 `json:"count"`
	Amount string `json:"amount"`
}

// totalsValueBytesMax bounds an encoded Totals: three counts of up to 20
// digits, three amounts below 2^320 (97 digits), and the JSON around them.
const totalsValueBytesMax = 3 * (len(`"verified":{"count":,"amount":""},`) + 20 + 97)

func encodeTotals(t Totals) []byte {
	j := func(t Tally) tallyJSON { return tallyJSON{Count: t.Count, Amount: t.amount().String()} }
	value, _ := json.Marshal(totalsJSON{Verified: j(t.Verified), Settled: j(t.Settled), Failed: j(t.Failed)})
	return value
}

func decodeTotals(key, value []byte) (Totals, error) {
	var raw totalsJSON
	if err := json.Unmarshal(value, &raw); err != nil {
		return Totals{}, fmt.Errorf("%w: totals %q: %v", ErrCorrupt, key, err)
	}
	var t Totals
	for _, pair := range []struct {
		from tallyJSON
		to   *Tally
	}{{raw.Verified, &t.Verified}, {raw.Settled, &t.Settled}, {raw.Failed, &t.Failed}} {
		amount, ok := new(big.Int).SetString(pair.from.Amount, 10)
		if !ok || amount.Sign() < 0 || amount.Cmp(amountMax) >= 0 {
			return Totals{}, fmt.Errorf("%w: totals %q: amount %q", ErrCorrupt, key, pair.from.Amount)
		}
		*pair.to = Tally{Count: pair.from.Count, Amount: amount}
	}
	return t, nil
}
