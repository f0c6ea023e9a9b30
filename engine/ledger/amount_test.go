package ledger

import (
	"encoding/json"
	"errors"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

// two64 and two128 are 2^64 and 2^128 as big integers, the boundaries of the
// two halves of an Amount.
var (
	two64  = new(big.Int).Lsh(big.NewInt(1), 64)
	two128 = new(big.Int).Lsh(big.NewInt(1), 128)
)

// bigOf returns a as a big integer, computed from its parts only.
func bigOf(a Amount) *big.Int {
	hi, lo := a.Parts()
	v := new(big.Int).SetUint64(hi)
	v.Lsh(v, 64)
	return v.Or(v, new(big.Int).SetUint64(lo))
}

// amountOfBig returns v as an Amount. REQUIRES: 0 <= v < 2^128.
func amountOfBig(t *testing.T, v *big.Int) Amount {
	t.Helper()
	if v.Sign() < 0 || v.Cmp(two128) >= 0 {
		t.Fatalf("amountOfBig(%v): out of range", v)
	}
	lo := new(big.Int).And(v, new(big.Int).Sub(two64, big.NewInt(1)))
	hi := new(big.Int).Rsh(v, 64)
	return AmountFromParts(hi.Uint64(), lo.Uint64())
}

// randomAmount returns a random Amount whose bit length is itself random, so
// small, 64-bit-boundary and full 128-bit values are all common.
func randomAmount(r *rand.Rand) Amount {
	hi, lo := r.Uint64(), r.Uint64()
	switch bitsKept := r.IntN(129); {
	case bitsKept == 0:
		return Amount{}
	case bitsKept <= 64:
		return AmountFromParts(0, lo>>(64-bitsKept))
	default:
		return AmountFromParts(hi>>(128-bitsKept), lo)
	}
}

func TestParseAmountAcceptsOnlyCanonicalDecimalsBelow2To128(t *testing.T) {
	tests := []struct {
		in      string
		want    Amount
		wantErr error
	}{
		{in: "0", want: Amount{}},
		{in: "1", want: NewAmount(1)},
		{in: "1500", want: NewAmount(1500)},
		{in: "18446744073709551615", want: NewAmount(^uint64(0))},
		{in: "18446744073709551616", want: AmountFromParts(1, 0)}, // 2^64
		{in: "340282366920938463463374607431768211455", want: MaxAmount()},
		{in: "100000000000000000000000000000000000000", want: amountOfBig(t, new(big.Int).Exp(big.NewInt(10), big.NewInt(38), nil))},

		{in: "", wantErr: ErrAmountSyntax},
		{in: "-1", wantErr: ErrAmountSyntax},
		{in: "-0", wantErr: ErrAmountSyntax},
		{in: "+1", wantErr: ErrAmountSyntax},
		{in: "01", wantErr: ErrAmountSyntax},
		{in: "00", wantErr: ErrAmountSyntax},
		{in: "1.5", wantErr: ErrAmountSyntax},
		{in: "1.", wantErr: ErrAmountSyntax},
		{in: "1e3", wantErr: ErrAmountSyntax},
		{in: "0x10", wantErr: ErrAmountSyntax},
		{in: " 1", wantErr: ErrAmountSyntax},
		{in: "1 ", wantErr: ErrAmountSyntax},
		{in: "1_000", wantErr: ErrAmountSyntax},
		{in: "abc", wantErr: ErrAmountSyntax},
		{in: "１", wantErr: ErrAmountSyntax},  // fullwidth digit one
		{in: "١٢", wantErr: ErrAmountSyntax}, // Arabic-Indic digits
		{in: "1\x00", wantErr: ErrAmountSyntax},

		{in: "340282366920938463463374607431768211456", wantErr: ErrAmountRange}, // 2^128
		{in: "340282366920938463463374607431768211460", wantErr: ErrAmountRange},
		{in: "999999999999999999999999999999999999999", wantErr: ErrAmountRange},
		{in: "1000000000000000000000000000000000000000", wantErr: ErrAmountRange}, // 40 digits
		{in: "1" + strings.Repeat("0", 99), wantErr: ErrAmountRange},
	}
	for _, tt := range tests {
		got, err := ParseAmount(tt.in)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("ParseAmount(%q) = %v, %v, want error %v", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseAmount(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestAmountStringRoundTripsAndMatchesBigInt(t *testing.T) {
	fixed := []Amount{
		{}, NewAmount(1), NewAmount(9), NewAmount(10), NewAmount(^uint64(0)),
		AmountFromParts(1, 0), AmountFromParts(1, 1), MaxAmount(),
		AmountFromParts(^uint64(0), 0), AmountFromParts(0x8000000000000000, 0),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		fixed = append(fixed, randomAmount(r), AmountFromParts(r.Uint64(), r.Uint64()))
	}
	for _, a := range fixed {
		want := bigOf(a).String()
		if got := a.String(); got != want {
			t.Fatalf("Amount(%#x).String() = %q, want %q", bigOf(a), got, want)
		}
		back, err := ParseAmount(a.String())
		if err != nil || back != a {
			t.Fatalf("ParseAmount(%q) = %v, %v, want %v", a.String(), back, err, a)
		}
	}
}

func TestAmountAddReportsOverflowExactlyAbove2To128Minus1(t *testing.T) {
	max64 := ^uint64(0)
	tests := []struct {
		a, b   Amount
		want   Amount
		wantOK bool
	}{
		{Amount{}, Amount{}, Amount{}, true},
		{NewAmount(max64), NewAmount(1), AmountFromParts(1, 0), true}, // carry into the high half
		{NewAmount(max64), NewAmount(max64), AmountFromParts(1, max64-1), true},
		{MaxAmount(), Amount{}, MaxAmount(), true},
		{AmountFromParts(max64, max64-1), NewAmount(1), MaxAmount(), true},
		{MaxAmount(), NewAmount(1), Amount{}, false},
		{AmountFromParts(max64, 0), AmountFromParts(0, max64), MaxAmount(), true},
		{AmountFromParts(max64, 1), AmountFromParts(0, max64), Amount{}, false}, // overflow through the carry
		{AmountFromParts(1<<63, 0), AmountFromParts(1<<63, 0), Amount{}, false},
		{MaxAmount(), MaxAmount(), Amount{}, false},
	}
	for _, tt := range tests {
		got, ok := tt.a.Add(tt.b)
		if ok != tt.wantOK || (ok && got != tt.want) {
			t.Errorf("Add(%v, %v) = %v, %v, want %v, %v", tt.a, tt.b, got, ok, tt.want, tt.wantOK)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		a, b := randomAmount(r), randomAmount(r)
		sum := new(big.Int).Add(bigOf(a), bigOf(b))
		got, ok := a.Add(b)
		if wantOK := sum.Cmp(two128) < 0; ok != wantOK || (ok && bigOf(got).Cmp(sum) != 0) {
			t.Fatalf("Add(%v, %v) = %v, %v, want %v, %v", a, b, got, ok, sum, wantOK)
		}
	}
}

func TestAmountSubReportsUnderflowExactlyBelowZero(t *testing.T) {
	max64 := ^uint64(0)
	tests := []struct {
		a, b   Amount
		want   Amount
		wantOK bool
	}{
		{Amount{}, Amount{}, Amount{}, true},
		{NewAmount(1), NewAmount(1), Amount{}, true},
		{Amount{}, NewAmount(1), Amount{}, false},
		{AmountFromParts(1, 0), NewAmount(1), NewAmount(max64), true}, // borrow from the high half
		{AmountFromParts(1, 0), AmountFromParts(1, 1), Amount{}, false},
		{AmountFromParts(1, 0), AmountFromParts(0, max64), NewAmount(1), true},
		{MaxAmount(), MaxAmount(), Amount{}, true},
		{MaxAmount(), Amount{}, MaxAmount(), true},
		{AmountFromParts(max64-1, max64), MaxAmount(), Amount{}, false},
		{Amount{}, MaxAmount(), Amount{}, false},
	}
	for _, tt := range tests {
		got, ok := tt.a.Sub(tt.b)
		if ok != tt.wantOK || (ok && got != tt.want) {
			t.Errorf("Sub(%v, %v) = %v, %v, want %v, %v", tt.a, tt.b, got, ok, tt.want, tt.wantOK)
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		a, b := randomAmount(r), randomAmount(r)
		difference := new(big.Int).Sub(bigOf(a), bigOf(b))
		got, ok := a.Sub(b)
		if wantOK := difference.Sign() >= 0; ok != wantOK || (ok && bigOf(got).Cmp(difference) != 0) {
			t.Fatalf("Sub(%v, %v) = %v, %v, want %v, %v", a, b, got, ok, difference, wantOK)
		}
	}
}

func TestAmountCmpOrdersByValueHighHalfFirst(t *testing.T) {
	tests := []struct {
		a, b Amount
		want int
	}{
		{Amount{}, Amount{}, 0},
		{Amount{}, NewAmount(1), -1},
		{NewAmount(1), Amount{}, 1},
		{AmountFromParts(1, 0), NewAmount(^uint64(0)), 1}, // the high half wins over a larger low half
		{NewAmount(^uint64(0)), AmountFromParts(1, 0), -1},
		{AmountFromParts(2, 1), AmountFromParts(2, 2), -1},
		{MaxAmount(), MaxAmount(), 0},
		{MaxAmount(), AmountFromParts(^uint64(0), ^uint64(0)-1), 1},
	}
	for _, tt := range tests {
		if got := tt.a.Cmp(tt.b); got != tt.want {
			t.Errorf("Cmp(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
	r := rand.New(rand.NewPCG(7, 8))
	for range 20000 {
		a, b := randomAmount(r), randomAmount(r)
		if r.IntN(8) == 0 {
			b = a
		}
		if got, want := a.Cmp(b), bigOf(a).Cmp(bigOf(b)); got != want {
			t.Fatalf("Cmp(%v, %v) = %v, want %v", a, b, got, want)
		}
		if got, want := a == b, a.Cmp(b) == 0; got != want {
			t.Fatalf("(%v == %v) = %v, want %v (Cmp)", a, b, got, want)
		}
	}
}

func TestAmountIsZeroOnlyForZero(t *testing.T) {
	tests := []struct {
		a    Amount
		want bool
	}{
		{Amount{}, true},
		{NewAmount(0), true},
		{NewAmount(1), false},
		{AmountFromParts(1, 0), false},
		{MaxAmount(), false},
	}
	for _, tt := range tests {
		if got := tt.a.IsZero(); got != tt.want {
			t.Errorf("IsZero(%v) = %v, want %v", tt.a, got, tt.want)
		}
	}
}

func TestFeeOfIsFloorOfAmountTimesBasisPointsOver10000(t *testing.T) {
	tests := []struct {
		a    Amount
		bps  uint32
		want Amount
	}{
		{NewAmount(0), 10000, NewAmount(0)},
		{NewAmount(1500), 0, NewAmount(0)},
		{NewAmount(1500), 10000, NewAmount(1500)},
		{NewAmount(1500), 250, NewAmount(37)}, // 37.5 rounds down
		{NewAmount(9999), 1, NewAmount(0)},    // 0.9999 rounds down
		{NewAmount(10000), 1, NewAmount(1)},
		{NewAmount(999), 100, NewAmount(9)},
		{MaxAmount(), 10000, MaxAmount()},
		{MaxAmount(), 0, Amount{}},
		{MaxAmount(), 5000, AmountFromParts(^uint64(0)>>1, ^uint64(0))}, // floor((2^128-1)/2)
	}
	for _, tt := range tests {
		if got := tt.a.FeeOf(tt.bps); got != tt.want {
			t.Errorf("FeeOf(%v, %d) = %v, want %v", tt.a, tt.bps, got, tt.want)
		}
	}
	r := rand.New(rand.NewPCG(9, 10))
	edges := []uint32{0, 1, 2, 9999, 10000}
	for i := range 50000 {
		a := randomAmount(r)
		if i%2 == 0 {
			a = AmountFromParts(r.Uint64(), r.Uint64())
		}
		bps := uint32(r.IntN(BasisPointsMax + 1))
		if i%5 == 0 {
			bps = edges[r.IntN(len(edges))]
		}
		want := new(big.Int).Mul(bigOf(a), big.NewInt(int64(bps)))
		want.Quo(want, big.NewInt(BasisPointsMax))
		got := a.FeeOf(bps)
		if bigOf(got).Cmp(want) != 0 {
			t.Fatalf("FeeOf(%v, %d) = %v, want %v", a, bps, got, want)
		}
		if got.Cmp(a) > 0 {
			t.Fatalf("FeeOf(%v, %d) = %v, want at most the amount", a, bps, got)
		}
	}
}

func TestFeeOfPanicsAboveTenThousandBasisPoints(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Errorf("FeeOf(1500, 10001) did not panic, want an assertion failure")
		}
	}()
	NewAmount(1500).FeeOf(BasisPointsMax + 1)
}

func TestAmountJSONIsADecimalString(t *testing.T) {
	type body struct {
		Price Amount `json:"price"`
	}
	tests := []struct {
		a    Amount
		json string
	}{
		{Amount{}, `{"price":"0"}`},
		{NewAmount(1500), `{"price":"1500"}`},
		{AmountFromParts(1, 0), `{"price":"18446744073709551616"}`},
		{MaxAmount(), `{"price":"340282366920938463463374607431768211455"}`},
	}
	for _, tt := range tests {
		got, err := json.Marshal(body{tt.a})
		if err != nil || string(got) != tt.json {
			t.Errorf("json.Marshal(%v) = %s, %v, want %s", tt.a, got, err, tt.json)
		}
		var back body
		if err := json.Unmarshal([]byte(tt.json), &back); err != nil || back.Price != tt.a {
			t.Errorf("json.Unmarshal(%s) = %v, %v, want %v", tt.json, back.Price, err, tt.a)
		}
	}
	r := rand.New(rand.NewPCG(11, 12))
	for range 2000 {
		a := randomAmount(r)
		data, err := json.Marshal(a)
		if err != nil || string(data) != `"`+bigOf(a).String()+`"` {
			t.Fatalf("json.Marshal(%v) = %s, %v, want %q", a, data, err, bigOf(a).String())
		}
		var back Amount
		if err := json.Unmarshal(data, &back); err != nil || back != a {
			t.Fatalf("json.Unmarshal(%s) = %v, %v, want %v", data, back, err, a)
		}
	}
}

func TestAmountJSONRejectsNumbersAndNonCanonicalStrings(t *testing.T) {
	for _, in := range []string{
		`1500`, // a JSON number, not a string: floats must never carry money
		`1.5e3`,
		`""`,
		`"-1"`,
		`"01"`,
		`"1.5"`,
		`" 1"`,
		`"340282366920938463463374607431768211456"`,
		`null`,
	} {
		a := NewAmount(7)
		err := json.Unmarshal([]byte(in), &a)
		if in == `null` {
			// encoding/json leaves a value unchanged on null; that must not zero it.
			if err != nil || a != NewAmount(7) {
				t.Errorf("json.Unmarshal(%s) = %v, %v, want 7 unchanged", in, a, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("json.Unmarshal(%s) = %v, nil, want an error", in, a)
		}
	}
	var a Amount
	if err := a.UnmarshalText([]byte("01")); !errors.Is(err, ErrAmountSyntax) {
		t.Errorf("UnmarshalText(%q) = %v, want %v", "01", err, ErrAmountSyntax)
	}
	if err := a.UnmarshalText([]byte("340282366920938463463374607431768211456")); !errors.Is(err, ErrAmountRange) {
		t.Errorf("UnmarshalText(2^128) = %v, want %v", err, ErrAmountRange)
	}
}

func TestAmountFromPartsRoundTripsParts(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for range 1000 {
		hi, lo := r.Uint64(), r.Uint64()
		gotHi, gotLo := AmountFromParts(hi, lo).Parts()
		if gotHi != hi || gotLo != lo {
			t.Fatalf("AmountFromParts(%#x, %#x).Parts() = %#x, %#x, want %#x, %#x", hi, lo, gotHi, gotLo, hi, lo)
		}
	}
	if hi, lo := MaxAmount().Parts(); hi != ^uint64(0) || lo != ^uint64(0) {
		t.Errorf("MaxAmount().Parts() = %#x, %#x, want all ones", hi, lo)
	}
}
