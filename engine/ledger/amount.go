package ledger

import (
	"errors"
	"math/bits"
	"strconv"
)

// Amount is an unsigned 128-bit integer of an asset's base units (USDC has 6
// decimals: 1 USDC = 1_000_000). Money is never a float: every operation on
// an Amount is checked and reports overflow instead of wrapping.
//
// The zero value is zero. Amount is comparable, so == works.
type Amount struct {
	hi, lo uint64
}

// AmountDigitsMax is the number of decimal digits of the largest Amount,
// 2^128-1 = 340282366920938463463374607431768211455.
const AmountDigitsMax = 39

var (
	// ErrAmountSyntax reports a string that is not a plain decimal integer.
	ErrAmountSyntax = errors.New("amount: not a non-negative decimal integer")
	// ErrAmountRange reports a value that does not fit in 128 bits.
	ErrAmountRange = errors.New("amount: out of range")
)

// NewAmount returns v base units as an Amount.
func NewAmount(v uint64) Amount { return Amount{lo: v} }

// AmountFromParts builds an Amount from its high and low 64-bit halves.
func AmountFromParts(hi, lo uint64) Amount { return Amount{hi: hi, lo: lo} }

// Parts returns the high and low 64-bit halves of a.
func (a Amount) Parts() (hi, lo uint64) { return a.hi, a.lo }

// MaxAmount returns the largest Amount, 2^128-1.
func MaxAmount() Amount { return Amount{hi: ^uint64(0), lo: ^uint64(0)} }

// ParseAmount parses a decimal string of base units. It accepts only ASCII
// digits: no sign, no spaces, no fraction, no exponent, and no leading zero
// (except "0" itself), so every amount has exactly one spelling.
func ParseAmount(s string) (Amount, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return Amount{}, ErrAmountSyntax
	}
	var a Amount
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return Amount{}, ErrAmountSyntax
		}
		if i >= AmountDigitsMax {
			return Amount{}, ErrAmountRange
		}
		next, ok := a.mulSmall(10)
		if !ok {
			return Amount{}, ErrAmountRange
		}
		next, ok = next.Add(NewAmount(uint64(c - '0')))
		if !ok {
			return Amount{}, ErrAmountRange
		}
		a = next
	}
	return a, nil
}

// String returns a as a decimal string.
func (a Amount) String() string {
	var buf [AmountDigitsMax]byte
	return string(a.AppendTo(buf[:0]))
}

// AppendTo appends a as a decimal string to buf.
func (a Amount) AppendTo(buf []byte) []byte {
	if a.hi == 0 {
		return strconv.AppendUint(buf, a.lo, 10)
	}
	var digits [AmountDigitsMax]byte
	i := len(digits)
	for !a.IsZero() {
		var digit uint64
		a, digit = a.divSmall(10)
		i--
		digits[i] = byte('0' + digit)
	}
	return append(buf, digits[i:]...)
}

// IsZero reports whether a is zero.
func (a Amount) IsZero() bool { return a.hi == 0 && a.lo == 0 }

// Cmp returns -1, 0 or +1 as a is less than, equal to or greater than b.
func (a Amount) Cmp(b Amount) int {
	switch {
	case a.hi < b.hi:
		return -1
	case a.hi > b.hi:
		return 1
	case a.lo < b.lo:
		return -1
	case a.lo > b.lo:
		return 1
	}
	return 0
}

// Add returns a+b, and false if the sum does not fit in 128 bits.
func (a Amount) Add(b Amount) (Amount, bool) {
	lo, carry := bits.Add64(a.lo, b.lo, 0)
	hi, overflow := bits.Add64(a.hi, b.hi, carry)
	return Amount{hi: hi, lo: lo}, overflow == 0
}

// Sub returns a-b, and false if b is greater than a.
func (a Amount) Sub(b Amount) (Amount, bool) {
	lo, borrow := bits.Sub64(a.lo, b.lo, 0)
	hi, underflow := bits.Sub64(a.hi, b.hi, borrow)
	return Amount{hi: hi, lo: lo}, underflow == 0
}

// FeeOf returns a × bps / 10000 rounded down: the platform fee in basis
// points. It cannot overflow because the result never exceeds a.
//
// REQUIRES: bps <= BasisPointsMax.
func (a Amount) FeeOf(bps uint32) Amount {
	assert(bps <= BasisPointsMax, "fee basis points above 10000")
	// a = q×10000 + r, so a×bps/10000 = q×bps + r×bps/10000 exactly (floor),
	// and q×bps <= a fits, r×bps < 10^8 fits.
	q, r := a.divSmall(BasisPointsMax)
	fee, ok := q.mulSmall(uint64(bps))
	assert(ok, "fee overflow")
	fee, ok = fee.Add(NewAmount(r * uint64(bps) / BasisPointsMax))
	assert(ok, "fee overflow")
	return fee
}

// BasisPointsMax is 100% in basis points.
const BasisPointsMax = 10_000

// MulUint64 returns a × m, and false if it overflows 128 bits.
func (a Amount) MulUint64(m uint64) (Amount, bool) { return a.mulSmall(m) }

func (a Amount) mulSmall(m uint64) (Amount, bool) {
	hiHi, hiLo := bits.Mul64(a.hi, m)
	loHi, loLo := bits.Mul64(a.lo, m)
	hi, carry := bits.Add64(hiLo, loHi, 0)
	return Amount{hi: hi, lo: loLo}, hiHi == 0 && carry == 0
}

// divSmall returns a/d and a%d. REQUIRES: d > 0.
func (a Amount) divSmall(d uint64) (Amount, uint64) {
	hi, r := bits.Div64(0, a.hi, d)
	lo, r := bits.Div64(r, a.lo, d)
	return Amount{hi: hi, lo: lo}, r
}

// MarshalText encodes a as a decimal string, so JSON carries "1500".
func (a Amount) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText decodes a decimal string written by MarshalText.
func (a *Amount) UnmarshalText(text []byte) error {
	v, err := ParseAmount(string(text))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// assert panics on a broken invariant: a programmer error, never bad input.
func assert(ok bool, message string) {
	if !ok {
		panic("ledger: invariant violated: " + message)
	}
}
