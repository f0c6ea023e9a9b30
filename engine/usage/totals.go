package usage

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/ledger"
)

// Totals are an account's usage over a span.
type Totals struct {
	SpentCount  uint64        // charges and captures it paid
	Spent       engine.Amount // what they debited it, fees included
	EarnedCount uint64        // charges and captures it was paid
	Earned      engine.Amount // what they credited it, fees deducted
	Fees        engine.Amount // the platform's fees within Spent
}

// ErrOverflow reports totals past 128 bits: more money than any ledger
// holds has flowed through one account, so the log is not what it seems.
var ErrOverflow = errors.New("usage: totals overflow 128 bits")

// Add adds o to t.
func (t *Totals) Add(o Totals) error {
	var ok [3]bool
	spent, earned, fees := t.Spent, t.Earned, t.Fees
	spent, ok[0] = spent.Add(o.Spent)
	earned, ok[1] = earned.Add(o.Earned)
	fees, ok[2] = fees.Add(o.Fees)
	if ok != [3]bool{true, true, true} {
		return ErrOverflow
	}
	t.SpentCount += o.SpentCount
	t.EarnedCount += o.EarnedCount
	t.Spent, t.Earned, t.Fees = spent, earned, fees
	return nil
}

// IsZero reports that t counts nothing.
func (t Totals) IsZero() bool { return t == Totals{} }

// Bucket is the usage of one day or month (Granularity) starting at Start,
// midnight UTC.
type Bucket struct {
	Start time.Time
	Totals
}

// Day is a UTC day: days since 1970-01-01.
type Day int64

const secondsPerDay = 24 * 60 * 60

// DayOf returns the UTC day of t.
func DayOf(t time.Time) Day {
	seconds := t.Unix()
	day := seconds / secondsPerDay
	if seconds%secondsPerDay < 0 {
		day-- // floor, for times before 1970
	}
	return Day(day)
}

// Time returns midnight UTC that starts d.
func (d Day) Time() time.Time { return time.Unix(int64(d)*secondsPerDay, 0).UTC() }

// totalsBytes is the size of an encoded Totals: two counts and three amounts.
const totalsBytes = 2*8 + 3*16

func appendAmount(buf []byte, a engine.Amount) []byte {
	hi, lo := a.Parts()
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(buf, hi), lo)
}

func amountAt(buf []byte) engine.Amount {
	return ledger.AmountFromParts(binary.BigEndian.Uint64(buf), binary.BigEndian.Uint64(buf[8:]))
}

func (t Totals) appendTo(buf []byte) []byte {
	buf = binary.BigEndian.AppendUint64(buf, t.SpentCount)
	buf = appendAmount(buf, t.Spent)
	buf = binary.BigEndian.AppendUint64(buf, t.EarnedCount)
	buf = appendAmount(buf, t.Earned)
	return appendAmount(buf, t.Fees)
}

var errCorrupt = errors.New("usage: corrupt row")

func decodeTotals(buf []byte) (Totals, error) {
	if len(buf) != totalsBytes {
		return Totals{}, errCorrupt
	}
	return Totals{
		SpentCount:  binary.BigEndian.Uint64(buf),
		Spent:       amountAt(buf[8:]),
		EarnedCount: binary.BigEndian.Uint64(buf[24:]),
		Earned:      amountAt(buf[32:]),
		Fees:        amountAt(buf[48:]),
	}, nil
}

// ByMonth merges day buckets, in day order, into calendar months (UTC).
func ByMonth(days []Bucket) ([]Bucket, error) {
	var months []Bucket
	for _, day := range days {
		year, month, _ := day.Start.Date()
		start := time.Date(year, month, 1, 0, 0, 0, 0, time.UTC)
		if n := len(months); n == 0 || !months[n-1].Start.Equal(start) {
			months = append(months, Bucket{Start: start})
		}
		if err := months[len(months)-1].Add(day.Totals); err != nil {
			return nil, err
		}
	}
	return months, nil
}
