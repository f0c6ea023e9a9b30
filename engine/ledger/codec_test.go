package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
)

// Fields of an event record, in the order the format writes them.
const (
	fieldVersion = iota
	fieldType
	fieldID
	fieldLedger
	fieldTime
	fieldAccount
	fieldKind
	fieldFrom
	fieldTo
	fieldFees
	fieldAmount
	fieldFee
	fieldCaptured
	fieldFeeBps
	fieldTimeout
	fieldDeadline
	fieldSpender
	fieldMemo
	fieldSession    // a session event's terms; empty for other events
	fieldWithdrawal // a withdrawal event's terms; empty for other events
	fieldMarkers    // a debit's markers (version 5); empty when it has none
	eventFieldCount
)

// The format, written out by hand from its description in codec.go:
// uvarints, zig-zag varints for times, uvarint-length-prefixed strings,
// amounts as two uvarints (high, low). Each field is a separate piece so a
// test can replace one with bad bytes.

func uvarint(v uint64) []byte        { return binary.AppendUvarint(nil, v) }
func varint(v int64) []byte          { return binary.AppendVarint(nil, v) }
func lengthPrefixed(s string) []byte { return append(uvarint(uint64(len(s))), s...) }
func amountPiece(a Amount) []byte {
	hi, lo := a.Parts()
	return append(uvarint(hi), uvarint(lo)...)
}

func eventPieces(e *Event) [][]byte {
	return [][]byte{
		fieldVersion: {5}, fieldType: {typeByteOf(e)},
		fieldID: lengthPrefixed(string(e.ID)), fieldLedger: lengthPrefixed(string(e.Ledger)), fieldTime: varint(e.Time),
		fieldAccount: lengthPrefixed(string(e.Account)), fieldKind: {byte(e.Kind)},
		fieldFrom: lengthPrefixed(string(e.From)), fieldTo: lengthPrefixed(string(e.To)), fieldFees: lengthPrefixed(string(e.Fees)),
		fieldAmount: amountPiece(e.Amount), fieldFee: amountPiece(e.Fee), fieldCaptured: amountPiece(e.Captured),
		fieldFeeBps: uvarint(uint64(e.FeeBps)), fieldTimeout: varint(e.Timeout), fieldDeadline: varint(e.Deadline),
		fieldSpender: lengthPrefixed(string(e.Spender)), fieldMemo: lengthPrefixed(e.Memo),
		fieldSession: termsPiece(e), fieldWithdrawal: withdrawalTermsPiece(e), fieldMarkers: markersPiece(e),
	}
}

// typeByteOf returns e's type byte: its type, the high bit set when
// markers end the record (version 5).
func typeByteOf(e *Event) byte {
	if !e.LowBalance.IsZero() || e.BudgetCap != BudgetCapNone {
		return byte(e.Type) | 0x80
	}
	return byte(e.Type)
}

// markersPiece returns the block that ends a marked debit (version 5):
// flags (1: low balance, 2: budget), the threshold crossed, then the cap
// exhausted and its value; nothing for an event without markers.
func markersPiece(e *Event) []byte {
	var flags byte
	var rest [][]byte
	if !e.LowBalance.IsZero() {
		flags |= 1
		rest = append(rest, amountPiece(e.LowBalance))
	}
	if e.BudgetCap != BudgetCapNone {
		flags |= 2
		rest = append(rest, []byte{byte(e.BudgetCap)}, amountPiece(e.BudgetLimit))
	}
	if flags == 0 {
		return []byte{}
	}
	return join(append([][]byte{{flags}}, rest...))
}

// withdrawalTermsPiece returns the block that ends a withdrawal event
// (version 4): the amount requested, the amount released and its id.
func withdrawalTermsPiece(e *Event) []byte {
	if !e.Type.IsWithdrawal() {
		return []byte{}
	}
	w := e.Withdrawal
	return join([][]byte{amountPiece(w.Requested), amountPiece(w.Released), lengthPrefixed(string(w.ReleasedID))})
}

// termsPiece returns the block that ends a session event (version 3): the
// rate, the maximum seconds, then its times: created, start by, accepted,
// started, ended.
func termsPiece(e *Event) []byte {
	if !e.Type.IsSession() {
		return []byte{}
	}
	t := e.Session
	return join([][]byte{amountPiece(t.Rate), varint(t.MaxSeconds),
		varint(t.Created), varint(t.StartBy), varint(t.Accepted), varint(t.Started), varint(t.Ended)})
}

// sameEvent reports whether x and y are the same event, their session and
// withdrawal terms compared by value (Event holds them by pointer).
func sameEvent(x, y Event) bool {
	if (x.Session == nil) != (y.Session == nil) || (x.Session != nil && *x.Session != *y.Session) {
		return false
	}
	if (x.Withdrawal == nil) != (y.Withdrawal == nil) || (x.Withdrawal != nil && *x.Withdrawal != *y.Withdrawal) {
		return false
	}
	x.Session, y.Session = nil, nil
	x.Withdrawal, y.Withdrawal = nil, nil
	return x == y
}

func sameEvents(x, y []Event) bool { return slices.EqualFunc(x, y, sameEvent) }

// eventText formats e for failure text, its session and withdrawal terms
// by value.
func eventText(e Event) string {
	if w := e.Withdrawal; w != nil {
		e.Withdrawal = nil
		return fmt.Sprintf("%s withdrawal %+v", eventText(e), *w)
	}
	if e.Session == nil {
		return fmt.Sprintf("%+v", e)
	}
	terms := *e.Session
	e.Session = nil
	return fmt.Sprintf("%+v terms %+v", e, terms)
}

func eventsText(events []Event) string {
	texts := make([]string, len(events))
	for i, e := range events {
		texts[i] = eventText(e)
	}
	return "[" + strings.Join(texts, ", ") + "]"
}

// Fields of an account record before its holds, and of each hold.
const (
	accountVersion = iota
	accountID
	accountLedger
	accountKind
	accountDebitsPosted
	accountCreditsPosted
	accountDebitsPending
	accountCreditsPending
	accountHoldCount
	accountFieldCount
)

// accountPieces returns the fields of a's record, then one piece per hold,
// then its spends, withdrawal reservation and low-balance threshold.
func accountPieces(a *Account) [][]byte { return accountPiecesOf(a, codecVersion) }

// accountPiecesOf returns a's record as version 4 or 5 writes it.
func accountPiecesOf(a *Account, version byte) [][]byte {
	pieces := [][]byte{
		accountVersion: {version}, accountID: lengthPrefixed(string(a.ID)), accountLedger: lengthPrefixed(string(a.Ledger)),
		accountKind: {byte(a.Kind)}, accountDebitsPosted: amountPiece(a.DebitsPosted), accountCreditsPosted: amountPiece(a.CreditsPosted),
		accountDebitsPending: amountPiece(a.DebitsPending), accountCreditsPending: amountPiece(a.CreditsPending),
		accountHoldCount: uvarint(uint64(len(a.Holds()))),
	}
	for _, h := range a.Holds() {
		pieces = append(pieces, holdPiece(h))
	}
	pieces = append(pieces, uvarint(uint64(len(a.spends))))
	for _, id := range slices.Sorted(maps.Keys(a.spends)) {
		s := a.spends[id]
		pieces = append(pieces, lengthPrefixed(string(id)), amountPiece(s.Total), varint(s.Day), amountPiece(s.DayTotal))
		if version >= 5 {
			pieces = append(pieces, amountPiece(s.dayReported), amountPiece(s.totalReported))
		}
	}
	pieces = append(pieces, withdrawalPiece(a.withdrawal))
	if version >= 5 {
		pieces = append(pieces, amountPiece(a.LowBalance))
	}
	return pieces
}

// withdrawalPiece returns the block that ends an account's record
// (version 4): 0 without a withdrawal reservation; 1, its id, amount,
// amount requested and time with one.
func withdrawalPiece(w *Withdrawal) []byte {
	if w == nil {
		return []byte{0}
	}
	return join([][]byte{{1}, lengthPrefixed(string(w.ID)), amountPiece(w.Amount), amountPiece(w.Requested), varint(w.Created)})
}

func holdPiece(h *Hold) []byte {
	return bytes.Join([][]byte{
		lengthPrefixed(string(h.ID)), lengthPrefixed(string(h.To)), lengthPrefixed(string(h.Fees)), amountPiece(h.Amount),
		uvarint(uint64(h.FeeBps)), varint(h.Created), varint(h.Timeout), varint(h.Deadline),
		lengthPrefixed(string(h.Spender)), lengthPrefixed(h.Memo),
	}, nil)
}

func join(pieces [][]byte) []byte { return bytes.Join(pieces, nil) }

// spendsPiece returns the spends of an account record naming these
// spenders, in this order, each having spent 5 of which 2 on day 3.
func spendsPiece(spenders ...SpenderID) []byte {
	piece := uvarint(uint64(len(spenders)))
	for _, id := range spenders {
		piece = append(piece, join([][]byte{lengthPrefixed(string(id)), amountPiece(NewAmount(5)), varint(3), amountPiece(NewAmount(2)),
			amountPiece(Amount{}), amountPiece(NewAmount(5))})...)
	}
	return piece
}

// replaced returns a copy of pieces with piece i replaced.
func replaced(pieces [][]byte, i int, piece []byte) [][]byte {
	c := append([][]byte(nil), pieces...)
	c[i] = piece
	return c
}

var (
	longTransferID = TransferID(strings.Repeat("t", TransferIDBytesMax))
	longLedger     = LedgerID(strings.Repeat("l", LedgerIDBytesMax))
	longAccount    = AccountID(strings.Repeat("a", systemIDBytesMax))
	longSpender    = SpenderID(strings.Repeat("s", SpenderIDBytesMax))
	longMemo       = strings.Repeat("m", MemoBytesMax)
)

// sampleEvents returns events of every type: ones the rules decide through
// a Book, and ones with every field at its largest.
func sampleEvents(t testing.TB) []Event {
	t.Helper()
	b := NewBook(true)
	var events []Event
	for _, open := range []AccountID{alice, bob} {
		opened, err := OpenAccount(b, open, testLedger, KindConsumer, now0)
		if err != nil {
			t.Fatal(err)
		}
		for i := range opened {
			b.Apply(&opened[i])
		}
		events = append(events, opened...)
	}
	for i, c := range []Command{
		{Type: CommandCredit, ID: "c", To: alice, Amount: NewAmount(1_000_000)},
		{Type: CommandCharge, ID: "k", From: alice, To: bob, Amount: NewAmount(1500), FeeBps: 250},
		{Type: CommandCharge, ID: "m", From: alice, To: bob, Amount: NewAmount(20), Memo: `{"call":"gpt"}`,
			Budget: Budget{Spender: "key_1", PerDebit: NewAmount(100), PerDay: NewAmount(1000), Total: NewAmount(5000)}},
		{Type: CommandHold, ID: "h1", From: alice, To: bob, Amount: NewAmount(5000), FeeBps: 100, Timeout: 1e9},
		{Type: CommandCapture, ID: "h1", Amount: NewAmount(4321)},
		{Type: CommandHold, ID: "h2", From: alice, To: bob, Amount: NewAmount(7), Timeout: 60e9, Budget: Budget{Spender: "key_1"}, Memo: "m"},
		{Type: CommandVoid, ID: "h2"},
		{Type: CommandHold, ID: "h3", From: alice, To: bob, Amount: NewAmount(9), Timeout: 1},
		{Type: CommandCredit, ID: "tick", To: alice, Amount: NewAmount(1)}, // expires h3 first
		{Type: CommandPayout, ID: "out", From: bob, Amount: NewAmount(100)},
		{Type: CommandSetLowBalance, From: alice, Amount: NewAmount(994_000)},
		{Type: CommandCharge, ID: "low", From: alice, To: bob, Amount: NewAmount(200), Budget: Budget{Spender: "key_2", Total: NewAmount(300)}},
		{Type: CommandReserveWithdrawal, ID: "wdr-1", From: alice, Amount: NewAmount(2000)},
		{Type: CommandReserveWithdrawal, ID: "wdr-2", From: alice, Amount: NewAmount(1 << 40)}, // replaces wdr-1, reserves what is available
		{Type: CommandCompleteWithdrawal, ID: "wd-2", From: alice, Amount: NewAmount(1500)},
	} {
		applied, _, err := b.Execute(&c, now0+int64(i)*1e6)
		if err != nil {
			t.Fatalf("%s(%+v) = %v, want success", commandName(c.Type), c, err)
		}
		events = append(events, applied...)
	}
	events = append(events, sampleSessionEvents(t, b)...)
	max := MaxAmount()
	for _, typ := range []EventType{EventCredited, EventCharged, EventHeld, EventCaptured, EventVoided, EventExpired} {
		e := Event{
			Type: typ, ID: longTransferID, Ledger: longLedger, Time: math.MaxInt64, Account: longAccount, Kind: KindChain,
			From: longAccount, To: longAccount[1:], Fees: longAccount[2:], Amount: max,
			FeeBps: BasisPointsMax, Timeout: math.MaxInt64, Deadline: math.MinInt64,
		}
		if typ != EventCredited {
			e.Spender, e.Memo = longSpender, longMemo
		}
		switch typ {
		case EventCharged:
			e.Fee = max
		case EventCaptured:
			e.Fee, e.Captured = max, max
		}
		events = append(events, e)
	}
	events = append(events, Event{Type: EventAccountCreated, Ledger: longLedger, Time: math.MinInt64, Account: longAccount, Kind: KindChain},
		Event{Type: EventLowBalanceSet, Ledger: longLedger, Time: math.MinInt64, Account: longAccount, Amount: max})
	for _, typ := range []EventType{EventCharged, EventHeld} { // both markers, at their largest
		events = append(events, Event{Type: typ, ID: longTransferID, Ledger: longLedger, Time: math.MaxInt64,
			From: longAccount, To: longAccount[1:], Fees: longAccount[2:], Amount: max, FeeBps: BasisPointsMax,
			Spender: longSpender, Memo: longMemo, LowBalance: max, BudgetCap: BudgetCapTotal, BudgetLimit: max})
	}
	for _, typ := range []EventType{EventWithdrawalReserved, EventWithdrawn} {
		events = append(events, Event{Type: typ, ID: longTransferID, Ledger: longLedger, Time: math.MaxInt64,
			From: longAccount[:AccountIDBytesMax], To: ChainAccountID(longLedger), Amount: max,
			Withdrawal: &WithdrawalTerms{Requested: max, Released: max, ReleasedID: longTransferID}})
	}
	return append(events, largestSessionEvents()...)
}

// sampleSessionEvents drives sessions of alice (funded) for bob on b
// through every transition and both timers, and returns their events.
func sampleSessionEvents(t testing.TB, b *Book) []Event {
	t.Helper()
	var events []Event
	at := now0 + 1e9
	open := func(id TransferID, rate uint64, maxSeconds int64, memo string, budget Budget, now int64) {
		t.Helper()
		c := Command{Type: CommandSessionOpen, ID: id, From: alice, To: bob, Rate: NewAmount(rate), MaxSeconds: maxSeconds,
			Timeout: 60e9, FeeBps: 250, Memo: memo, Budget: budget}
		applied, _, err := b.Execute(&c, now)
		if err != nil {
			t.Fatalf("SessionOpen(%+v) = %v, want success", c, err)
		}
		events = append(events, applied...)
	}
	step := func(id TransferID, typ SessionCommandType, by AccountID, now int64) {
		t.Helper()
		applied, _, err := b.ExecuteSession(id, SessionCommand{Type: typ, By: by}, now)
		if err != nil {
			t.Fatalf("ExecuteSession(%q, %v by %q) = %v, want success", id, typ, by, err)
		}
		events = append(events, applied...)
	}
	open("s-end", 3, 100, `{"gpu":"a100"}`, Budget{Spender: "key_1"}, at)
	step("s-end", SessionAccept, bob, at+1e9)
	step("s-end", SessionStart, alice, at+2e9)
	step("s-end", SessionEnd, bob, at+44_500_000_000) // 42.5 s live: 126 charged, 3 of it the fee
	open("s-cancel", 1, 10, "", Budget{}, at+3e9)
	step("s-cancel", SessionCancel, alice, at+4e9)
	open("s-expire", 2, 5, "", Budget{}, at+5e9)
	step("s-expire", SessionAccept, bob, at+6e9)
	events = append(events, b.CloseDueSessions(at+65e9)...) // the end of its start window
	open("s-max", 7, 5, "", Budget{}, at+66e9)
	step("s-max", SessionAccept, bob, at+67e9)
	step("s-max", SessionStart, bob, at+68e9)
	events = append(events, b.CloseDueSessions(at+80e9)...) // 7 s after its maximum
	return events
}

// largestSessionEvents returns an event of every session type with every
// field at its largest: the largest rate whose maximum fits 128 bits.
func largestSessionEvents() []Event {
	rate, _ := MaxAmount().divSmall(SessionSecondsMax)
	reserved, _ := rate.mulSmall(SessionSecondsMax)
	var events []Event
	for typ := EventSessionOpened; typ <= EventSessionExpired; typ++ {
		e := Event{
			Type: typ, ID: longTransferID, Ledger: longLedger, Time: math.MinInt64, Account: longAccount, Kind: KindChain,
			From: longAccount, To: longAccount[1:], Fees: longAccount[2:], Amount: reserved, FeeBps: BasisPointsMax,
			Spender: longSpender, Memo: longMemo,
			Session: &SessionTerms{Rate: rate, MaxSeconds: SessionSecondsMax, Created: math.MinInt64, StartBy: math.MaxInt64,
				Accepted: math.MinInt64, Started: math.MaxInt64, Ended: math.MinInt64},
		}
		if typ == EventSessionEnded {
			e.Captured, e.Fee = reserved, reserved
		}
		events = append(events, e)
	}
	return events
}

// sampleAccounts returns accounts with and without holds, with counters
// and ids at their largest.
func sampleAccounts(t testing.TB) []*Account {
	t.Helper()
	plain := &Account{ID: alice, Ledger: testLedger, Kind: KindConsumer, CreditsPosted: NewAmount(1500), DebitsPosted: NewAmount(300)}
	holding := &Account{ID: alice, Ledger: testLedger, Kind: KindConsumer, CreditsPosted: NewAmount(10_000), CreditsPending: NewAmount(3)}
	for i, amount := range []uint64{600, 50, 7} {
		c := Command{Type: CommandHold, ID: TransferID([]string{"h-b", "h-a", "h-c"}[i]), Ledger: testLedger, From: alice, To: bob, Fees: testFees,
			Amount: NewAmount(amount), FeeBps: uint32(i * 100), Timeout: int64(10-i) * 1e9}
		e, err := Decide(holding, &c, now0+int64(i))
		if err != nil {
			t.Fatal(err)
		}
		holding.Apply(&e)
	}
	// Every counter at 2^128-1; two holds of the largest ids add up to it.
	full := &Account{ID: longAccount, Ledger: longLedger, Kind: KindSupplier,
		CreditsPosted: MaxAmount(), CreditsPending: MaxAmount()} // the holds bring DebitsPending to 2^128-1
	for i, amount := range []Amount{maxMinus(1), NewAmount(1)} {
		id := longTransferID[:TransferIDBytesMax-1] + TransferID("01"[i:i+1])
		full.Apply(&Event{Type: EventHeld, ID: id, From: longAccount, To: longAccount[1:], Fees: longAccount[2:],
			Amount: amount, FeeBps: BasisPointsMax, Time: math.MinInt64, Timeout: math.MaxInt64, Deadline: math.MaxInt64 - int64(i)})
	}
	chain := &Account{ID: testChain, Ledger: testLedger, Kind: KindChain, DebitsPosted: MaxAmount()}
	// Budgeted debits: two spenders, one with an open hold.
	spending := &Account{ID: alice, Ledger: testLedger, Kind: KindConsumer, CreditsPosted: NewAmount(10_000)}
	for i, c := range []Command{
		{Type: CommandCharge, ID: "s1", Ledger: testLedger, From: alice, To: bob, Fees: testFees, Amount: NewAmount(300), Budget: Budget{Spender: "key_b"}},
		{Type: CommandHold, ID: "s2", Ledger: testLedger, From: alice, To: bob, Fees: testFees, Amount: NewAmount(40), Timeout: 1e9,
			Budget: Budget{Spender: "key_a", Total: NewAmount(100)}, Memo: longMemo},
		{Type: CommandCharge, ID: "s3", Ledger: testLedger, From: alice, To: bob, Fees: testFees, Amount: NewAmount(5), Budget: Budget{Spender: longSpender}},
	} {
		e, err := Decide(spending, &c, now0+int64(i)*dayNanos)
		if err != nil {
			t.Fatal(err)
		}
		spending.Apply(&e)
	}
	// A withdrawal reservation beside a hold, and one of the largest ids.
	withdrawing := &Account{ID: alice, Ledger: testLedger, Kind: KindConsumer, CreditsPosted: NewAmount(10_000)}
	for i, c := range []Command{
		{Type: CommandHold, ID: "h", Ledger: testLedger, From: alice, To: bob, Fees: testFees, Amount: NewAmount(1000), Timeout: 1e9},
		{Type: CommandReserveWithdrawal, ID: "wdr", Ledger: testLedger, From: alice, To: testChain, Amount: NewAmount(12_000)},
	} {
		e, err := Decide(withdrawing, &c, now0+int64(i))
		if err != nil {
			t.Fatal(err)
		}
		withdrawing.Apply(&e)
	}
	reserving := &Account{ID: longAccount[:AccountIDBytesMax], Ledger: longLedger, Kind: KindConsumer,
		CreditsPosted: MaxAmount(), DebitsPending: MaxAmount()}
	reserving.withdrawal = &Withdrawal{ID: longTransferID, Amount: MaxAmount(), Requested: MaxAmount(), Created: math.MinInt64}
	return []*Account{plain, holding, full, chain, spending, withdrawing, reserving}
}

func TestEventEncodingFollowsTheDocumentedFormat(t *testing.T) {
	for _, e := range sampleEvents(t) {
		if got, want := AppendEvent(nil, &e), join(eventPieces(&e)); !bytes.Equal(got, want) {
			t.Errorf("AppendEvent(%s) = %x, want %x", eventText(e), got, want)
		}
	}
	for _, a := range sampleAccounts(t) {
		if got, want := AppendAccount(nil, a), join(accountPieces(a)); !bytes.Equal(got, want) {
			t.Errorf("AppendAccount(%q) = %x, want %x", a.ID, got, want)
		}
	}
}

func TestEveryEventTypeRoundTripsThroughTheCodec(t *testing.T) {
	seen := make(map[EventType]bool)
	for _, e := range sampleEvents(t) {
		seen[e.Type] = true
		prefix := []byte("earlier records")
		data := AppendEvent(append([]byte(nil), prefix...), &e)
		if !bytes.HasPrefix(data, prefix) {
			t.Fatalf("AppendEvent(%q, %+v) = %q, want it to keep the prefix", prefix, e, data)
		}
		got, err := DecodeEvent(data[len(prefix):])
		if err != nil || !sameEvent(got, e) {
			t.Errorf("DecodeEvent(AppendEvent(%s)) = %s, %v, want it back", eventText(e), eventText(got), err)
		}
	}
	for typ := EventAccountCreated; typ < eventTypeEnd; typ++ {
		if !seen[typ] {
			t.Errorf("no sample event of type %v, want every type round-tripped", typ)
		}
	}
}

func TestAccountsWithHoldsRoundTripThroughTheCodec(t *testing.T) {
	for _, a := range sampleAccounts(t) {
		prefix := []byte{0xff}
		data := AppendAccount(append([]byte(nil), prefix...), a)
		got, err := DecodeAccount(data[len(prefix):])
		if err != nil {
			t.Errorf("DecodeAccount(AppendAccount(%q)) = %v, want success", a.ID, err)
			continue
		}
		if !snapshotOf(got).equal(snapshotOf(a)) {
			t.Errorf("DecodeAccount(AppendAccount(%q)) = %+v, want %+v", a.ID, snapshotOf(got), snapshotOf(a))
		}
		if got.holdMemoBytes != a.holdMemoBytes {
			t.Errorf("DecodeAccount(%q) counts %d memo bytes of open holds, want %d", a.ID, got.holdMemoBytes, a.holdMemoBytes)
		}
		if len(a.Holds()) == 0 && got.holds != nil {
			t.Errorf("DecodeAccount(%q) without holds made a map, want nil", a.ID)
		}
		// The decoded holds are live: they expire and close like the originals.
		if gotDue, wantDue := ExpireDue(got, math.MaxInt64), ExpireDue(a, math.MaxInt64); len(gotDue) != len(wantDue) {
			t.Errorf("ExpireDue(decoded %q) = %d events, want %d", a.ID, len(gotDue), len(wantDue))
		}
	}
}

func TestDecodeEventRejectsEveryTruncationAndTrailingBytes(t *testing.T) {
	for _, e := range sampleEvents(t) {
		data := AppendEvent(nil, &e)
		for n := range len(data) {
			if got, err := DecodeEvent(data[:n]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeEvent(%d of %d bytes of %v) = %+v, %v, want %v", n, len(data), e.Type, got, err, ErrCorrupt)
			}
		}
		for _, trailing := range [][]byte{{0}, {1}, {0xff, 0xff}, data} {
			if got, err := DecodeEvent(append(append([]byte(nil), data...), trailing...)); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeEvent(%v with %d trailing bytes) = %+v, %v, want %v", e.Type, len(trailing), got, err, ErrCorrupt)
			}
		}
	}
}

func TestDecodeAccountRejectsEveryTruncationAndTrailingBytes(t *testing.T) {
	for _, a := range sampleAccounts(t) {
		data := AppendAccount(nil, a)
		for n := range len(data) {
			if got, err := DecodeAccount(data[:n]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeAccount(%d of %d bytes of %q) = %+v, %v, want %v", n, len(data), a.ID, got, err, ErrCorrupt)
			}
		}
		if got, err := DecodeAccount(append(data, 0)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("DecodeAccount(%q with a trailing byte) = %+v, %v, want %v", a.ID, got, err, ErrCorrupt)
		}
	}
}

func TestDecodeEventRejectsBadFields(t *testing.T) {
	charged := Event{Type: EventCharged, ID: "k", Ledger: testLedger, Time: now0, From: alice, To: bob, Fees: testFees, Amount: NewAmount(100), Fee: NewAmount(2)}
	captured := Event{Type: EventCaptured, ID: "h", Ledger: testLedger, Time: now0, From: alice, To: bob, Fees: testFees,
		Amount: NewAmount(100), Captured: NewAmount(60), Fee: NewAmount(1), FeeBps: 250, Timeout: 1e9, Deadline: now0 + 1e9}
	created := Event{Type: EventAccountCreated, Ledger: testLedger, Time: now0, Account: alice, Kind: KindConsumer}
	with := func(e Event, change func(*Event)) [][]byte {
		change(&e)
		return eventPieces(&e)
	}
	good := eventPieces(&charged)
	overlong := bytes.Repeat([]byte{0xff}, binary.MaxVarintLen64+1)
	tests := []struct {
		name   string
		pieces [][]byte
	}{
		{"version 0", replaced(good, fieldVersion, []byte{0})},
		{"version 6", replaced(good, fieldVersion, []byte{6})},
		{"version 255", replaced(good, fieldVersion, []byte{255})},
		{"type 0", replaced(good, fieldType, []byte{0})},
		{"type past the last", replaced(good, fieldType, []byte{byte(eventTypeEnd)})},
		{"type 255", replaced(good, fieldType, []byte{255})},
		{"kind past the last", replaced(good, fieldKind, []byte{byte(kindCount)})},
		{"kind 255", replaced(eventPieces(&created), fieldKind, []byte{255})},
		{"client id above its limit", replaced(good, fieldID, lengthPrefixed(strings.Repeat("t", TransferIDBytesMax+1)))},
		{"ledger above its limit", replaced(good, fieldLedger, lengthPrefixed(strings.Repeat("l", LedgerIDBytesMax+1)))},
		{"account above its limit", replaced(eventPieces(&created), fieldAccount, lengthPrefixed(strings.Repeat("a", systemIDBytesMax+1)))},
		{"payer above its limit", replaced(good, fieldFrom, lengthPrefixed(strings.Repeat("a", systemIDBytesMax+1)))},
		{"payee above its limit", replaced(good, fieldTo, lengthPrefixed(strings.Repeat("a", systemIDBytesMax+1)))},
		{"fees account above its limit", replaced(good, fieldFees, lengthPrefixed(strings.Repeat("a", systemIDBytesMax+1)))},
		{"string length past the end of the record", replaced(good, fieldFees, uvarint(1<<20))},
		{"string length of 2^63", replaced(good, fieldID, append(uvarint(1<<63), 'k'))},
		{"string length of 2^64-1", replaced(good, fieldLedger, uvarint(math.MaxUint64))},
		{"overlong uvarint in an amount", replaced(good, fieldAmount, overlong)},
		{"overlong varint in a time", replaced(good, fieldTime, overlong)},
		{"fee above 10000 basis points", replaced(eventPieces(&captured), fieldFeeBps, uvarint(BasisPointsMax+1))},
		{"fee basis points of 2^32", replaced(eventPieces(&captured), fieldFeeBps, uvarint(1<<32))},
		{"charge fee above its amount", with(charged, func(e *Event) { e.Fee = NewAmount(101) })},
		{"charge fee above its amount in the high half", with(charged, func(e *Event) { e.Fee = AmountFromParts(1, 0) })},
		{"capture above the held amount", with(captured, func(e *Event) { e.Captured = NewAmount(101) })},
		{"capture fee above the captured amount", with(captured, func(e *Event) { e.Fee = NewAmount(61) })},
		{"account created without an id", with(created, func(e *Event) { e.Account = "" })},
		{"transfer without a payer", with(charged, func(e *Event) { e.From = "" })},
		{"transfer without a payee", with(charged, func(e *Event) { e.To = "" })},
		{"transfer to its payer", with(charged, func(e *Event) { e.To = e.From })},
		{"transfer without a client id", with(charged, func(e *Event) { e.ID = "" })},
		{"hold to its payer", with(captured, func(e *Event) { e.Type, e.To = EventHeld, e.From })},
		{"spender above its limit", replaced(good, fieldSpender, lengthPrefixed(strings.Repeat("s", SpenderIDBytesMax+1)))},
		{"memo above its limit", replaced(good, fieldMemo, lengthPrefixed(strings.Repeat("m", MemoBytesMax+1)))},
		{"credit with a spender", with(charged, func(e *Event) { e.Type, e.Fee, e.Spender = EventCredited, Amount{}, "key_1" })},
		{"account created with a memo", with(created, func(e *Event) { e.Memo = "m" })},
		{"empty record", [][]byte{}},
	}
	if _, err := DecodeEvent(join(good)); err != nil {
		t.Fatalf("DecodeEvent(good) = %v, want success: the cases below change one thing each", err)
	}
	for _, tt := range tests {
		data := join(tt.pieces)
		if got, err := DecodeEvent(data); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: DecodeEvent(%x) = %+v, %v, want %v", tt.name, data, got, err, ErrCorrupt)
		}
	}
}

func TestDecodeAccountRejectsBadFieldsAndBrokenInvariants(t *testing.T) {
	holding := sampleAccounts(t)[1] // alice: 10000 credited, holds of 600, 50 and 7
	good := accountPieces(holding)
	hold := holding.Holds()[0]
	tooMany := append(replaced(good[:accountFieldCount], accountHoldCount, uvarint(holdsPerRecordMax+1)), good[accountFieldCount:]...)
	tests := []struct {
		name   string
		pieces [][]byte
	}{
		{"version 0", replaced(good, accountVersion, []byte{0})},
		{"version 6", replaced(good, accountVersion, []byte{6})},
		{"kind past the last", replaced(good, accountKind, []byte{byte(kindCount)})},
		{"empty id", replaced(good, accountID, lengthPrefixed(""))},
		{"id above its limit", replaced(good, accountID, lengthPrefixed(strings.Repeat("a", systemIDBytesMax+1)))},
		{"ledger above its limit", replaced(good, accountLedger, lengthPrefixed(strings.Repeat("l", LedgerIDBytesMax+1)))},
		{"string length past the end", replaced(good, accountLedger, uvarint(1<<30))},
		{"hold count above its limit", tooMany},
		{"hold count of 2^64-1", replaced(good, accountHoldCount, uvarint(math.MaxUint64))},
		{"hold count above the holds written", replaced(good, accountHoldCount, uvarint(4))},
		{"hold count below the holds written", replaced(good, accountHoldCount, uvarint(2))},
		{"the same hold twice", append(replaced(good, accountHoldCount, uvarint(4)), holdPiece(hold))},
		{"pending debits above the holds", replaced(good, accountDebitsPending, amountPiece(NewAmount(658)))},
		{"pending debits below the holds", replaced(good, accountDebitsPending, amountPiece(NewAmount(656)))},
		{"a consumer overdrawn", replaced(good, accountDebitsPosted, amountPiece(NewAmount(10_000-657+1)))},
		{"a consumer with debits past 2^128-1", replaced(good, accountDebitsPosted, amountPiece(MaxAmount()))},
		{"hold fee above 10000 basis points", replaced(good, accountFieldCount, holdPiece(&Hold{ID: hold.ID, To: hold.To, Fees: hold.Fees, Amount: hold.Amount, FeeBps: BasisPointsMax + 1}))},
		{"hold id above its limit", replaced(good, accountFieldCount, holdPiece(&Hold{ID: TransferID(strings.Repeat("t", TransferIDBytesMax+1)), To: hold.To, Amount: hold.Amount}))},
		{"spenders out of order", replaced(good, len(good)-3, spendsPiece("key_b", "key_a"))},
		{"the same spender twice", replaced(good, len(good)-3, spendsPiece("key_a", "key_a"))},
		{"an empty spender", replaced(good, len(good)-3, spendsPiece(""))},
		{"spender count above the spenders written", replaced(good, len(good)-2, uvarint(1))},
		{"spender count of 2^64-1", replaced(good, len(good)-2, uvarint(math.MaxUint64))},
		{"a day's spend above the total", replaced(good, len(good)-2,
			join([][]byte{uvarint(1), lengthPrefixed("key_a"), amountPiece(NewAmount(5)), varint(3), amountPiece(NewAmount(6))}))},
		{"empty record", [][]byte{}},
	}
	if _, err := DecodeAccount(join(replaced(good, len(good)-3, spendsPiece("key_a", "key_b")))); err != nil {
		t.Fatalf("DecodeAccount(good with spenders) = %v, want success", err)
	}
	if got, err := DecodeAccount(join(good)); err != nil || !snapshotOf(got).equal(snapshotOf(holding)) {
		t.Fatalf("DecodeAccount(good) = %v, want success: the cases below change one thing each", err)
	}
	for _, tt := range tests {
		data := join(tt.pieces)
		if got, err := DecodeAccount(data); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: DecodeAccount(%x) = %+v, %v, want %v", tt.name, data, got, err, ErrCorrupt)
		}
	}
}

// applyWithoutPanic applies e to b and turns a panic into a value.
func applyWithoutPanic(b *Book, e *Event) (panicked any) {
	defer func() { panicked = recover() }()
	b.Apply(e)
	return nil
}

// TestDecodeEventRejectsEventsThatReplayWouldMisapply: validateEvent exists
// so that "replay must never panic on bytes that passed DecodeEvent", and
// replay must not create or destroy money either. An event that passes it
// must, applied to a book that has its accounts (and funds), neither panic
// nor unbalance the ledger.
func TestDecodeEventRejectsEventsThatReplayWouldMisapply(t *testing.T) {
	held := Event{Type: EventHeld, ID: "forged", Ledger: testLedger, Time: now0, From: alice, To: bob, Fees: testFees,
		Amount: NewAmount(100), Timeout: 1e9, Deadline: now0 + 1e9}
	charged := Event{Type: EventCharged, ID: "forged", Ledger: testLedger, Time: now0, From: alice, To: bob, Fees: testFees,
		Amount: NewAmount(100), Fee: NewAmount(10)}
	credited := Event{Type: EventCredited, ID: "forged", Ledger: testLedger, Time: now0, From: testChain, To: alice, Amount: NewAmount(100)}
	tests := []struct {
		name   string
		event  Event
		change func(*Event)
	}{
		{"a hold whose fees account is its payer", held, func(e *Event) { e.Fees = e.From }},
		{"a hold whose fees account is its payee", held, func(e *Event) { e.Fees = e.To }},
		{"a charge whose fees account is its payee", charged, func(e *Event) { e.Fees = e.To }},
		{"a charge whose fees account is its payer", charged, func(e *Event) { e.Fees = e.From }},
		{"a charge with a fee and no fees account", charged, func(e *Event) { e.Fees = "" }},
		{"a credit with a fee", credited, func(e *Event) { e.Fee = NewAmount(10) }},
		{"a session opening whose fees account is its payer", sessionOpened(), func(e *Event) { e.Fees = e.From }},
		{"a session opening whose fees account is its payee", sessionOpened(), func(e *Event) { e.Fees = e.To }},
		{"a session opening with a fee", sessionOpened(), func(e *Event) { e.Fee = NewAmount(10) }},
		{"a session opening with a fee and no fees account", sessionOpened(), func(e *Event) { e.Fee, e.Fees = NewAmount(10), "" }},
		{"a session opening to its payer", sessionOpened(), func(e *Event) { e.To = e.From }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.event
			tt.change(&e)
			decoded, err := DecodeEvent(AppendEvent(nil, &e))
			if err != nil {
				return // rejected: replay never sees it
			}
			b := newTestBook(t, 1000)
			if panicked := applyWithoutPanic(b, &decoded); panicked != nil {
				t.Fatalf("BUG: DecodeEvent accepted %+v and Apply panicked: %v; want DecodeEvent to reject it", decoded, panicked)
			}
			if err := checkInvariants(b); err != nil {
				t.Fatalf("BUG: DecodeEvent accepted %+v and Apply left %v; want DecodeEvent to reject it", decoded, err)
			}
		})
	}
}

// TestDecodeAccountRejectsDebitsThatAvailableCannotAdd: checkAccount skips
// the overdraft check for the chain account, so a chain snapshot whose
// posted plus pending debits pass 2^128-1 is accepted, and Available, which
// documents zero for an overdrawn chain account, then panics.
func TestDecodeAccountRejectsDebitsThatAvailableCannotAdd(t *testing.T) {
	chain := &Account{ID: testChain, Ledger: testLedger, Kind: KindChain, DebitsPosted: MaxAmount()}
	chain.Apply(&Event{Type: EventHeld, ID: "h", From: testChain, To: bob, Fees: testFees, Amount: NewAmount(1), Timeout: 1, Deadline: 1})
	decoded, err := DecodeAccount(AppendAccount(nil, chain))
	if err != nil {
		return // rejected
	}
	defer func() {
		if panicked := recover(); panicked != nil {
			t.Errorf("BUG: DecodeAccount accepted %+v and Available() panicked: %v; want it rejected (or Available to return 0)", snapshotOf(decoded), panicked)
		}
	}()
	if got := decoded.Available(); !got.IsZero() {
		t.Errorf("Available(overdrawn chain) = %v, want 0", got)
	}
}

// FuzzDecodeEvent checks that DecodeEvent never panics, reports every
// failure as ErrCorrupt, and that what it accepts re-encodes to a record
// that decodes to the same event, on which ToAmount does not panic.
func FuzzDecodeEvent(f *testing.F) {
	for _, e := range sampleEvents(f) {
		f.Add(AppendEvent(nil, &e))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeEvent(data)
		session, sessionErr := DecodeSession(append([]byte{sessionRecordTag}, data...))
		if wantOpen := err == nil && e.Type.IsSession() && !e.Type.IsSessionClose(); (sessionErr == nil) != wantOpen ||
			(sessionErr != nil && !errors.Is(sessionErr, ErrCorrupt)) {
			t.Fatalf("DecodeSession(tag + %x) = %v, want success exactly when it holds an open session's event (DecodeEvent: %v)", data, sessionErr, err)
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeEvent(%x) = %v, want %v", data, err, ErrCorrupt)
			}
			return
		}
		if e.Type.IsSession() {
			s := SessionOf(&e)
			s.Deadline()
			s.CleanSeconds()
			if session != nil {
				if again, err := DecodeSession(AppendSession(nil, session)); err != nil || *again != *session {
					t.Fatalf("DecodeSession(AppendSession(%+v)) = %+v, %v, want it back", *session, again, err)
				}
			}
		}
		encoded := AppendEvent(nil, &e)
		again, err := DecodeEvent(encoded)
		if err != nil || !sameEvent(again, e) {
			t.Fatalf("DecodeEvent(AppendEvent(%s)) = %s, %v, want it back", eventText(e), eventText(again), err)
		}
		if reencoded := AppendEvent(nil, &again); !bytes.Equal(reencoded, encoded) {
			t.Fatalf("AppendEvent(%+v) = %x then %x, want one encoding", e, encoded, reencoded)
		}
		e.ToAmount()
		e.Involves(e.From)
	})
}

// FuzzDecodeAccount checks that DecodeAccount never panics, reports every
// failure as ErrCorrupt, and that what it accepts keeps the account
// invariants and re-encodes to a record that decodes to the same account.
func FuzzDecodeAccount(f *testing.F) {
	for _, a := range sampleAccounts(f) {
		f.Add(AppendAccount(nil, a))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := DecodeAccount(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeAccount(%x) = %v, want %v", data, err, ErrCorrupt)
			}
			return
		}
		if err := checkAccount(a); err != nil {
			t.Fatalf("DecodeAccount(%x) accepted an account that fails its invariants: %v", data, err)
		}
		for _, h := range a.Holds() {
			if h.From != a.ID {
				t.Fatalf("DecodeAccount(%x): hold %q of %q, want of %q", data, h.ID, h.From, a.ID)
			}
		}
		encoded := AppendAccount(nil, a)
		again, err := DecodeAccount(encoded)
		if err != nil || !snapshotOf(again).equal(snapshotOf(a)) {
			t.Fatalf("DecodeAccount(AppendAccount(%+v)) = %+v, %v, want it back", snapshotOf(a), snapshotOf(again), err)
		}
		if reencoded := AppendAccount(nil, again); !bytes.Equal(reencoded, encoded) {
			t.Fatalf("AppendAccount(%+v) = %x then %x, want one encoding", snapshotOf(a), encoded, reencoded)
		}
		ExpireDue(a, math.MaxInt64)
		a.NextDeadline()
	})
}

// TestVersionOneRecordsStillDecode checks that records written before
// spenders and memos existed decode, without them, and those written
// before sessions (version 2) or withdrawals (version 3) decode as they
// were, while a session event in a record before version 3, or a
// withdrawal event before version 4, is corrupt.
func TestVersionOneRecordsStillDecode(t *testing.T) {
	sessions, withdrawals, settings := 0, 0, 0
	for _, e := range sampleEvents(t) {
		if e.Type == EventLowBalanceSet {
			settings++
			pieces := eventPieces(&e)
			for version := byte(1); version <= 4; version++ {
				if got, err := DecodeEvent(join(replaced(pieces, fieldVersion, []byte{version}))); !errors.Is(err, ErrCorrupt) {
					t.Errorf("DecodeEvent(version %d of %v) = %s, %v, want %v", version, e.Type, eventText(got), err, ErrCorrupt)
				}
			}
			continue
		}
		if e.marked() {
			marked := eventPieces(&e)
			if got, err := DecodeEvent(join(replaced(marked, fieldVersion, []byte{4}))); !errors.Is(err, ErrCorrupt) {
				t.Errorf("DecodeEvent(version 4 of %s) = %s, %v, want %v: markers came with version 5", eventText(e), eventText(got), err, ErrCorrupt)
			}
			e.LowBalance, e.BudgetCap, e.BudgetLimit = Amount{}, BudgetCapNone, Amount{} // older versions had none
		}
		pieces := eventPieces(&e)
		if got, err := DecodeEvent(join(replaced(pieces, fieldVersion, []byte{4}))); err != nil || !sameEvent(got, e) {
			t.Errorf("DecodeEvent(version 4 of %s) = %s, %v, want it back", eventText(e), eventText(got), err)
		}
		if e.Type.IsWithdrawal() {
			withdrawals++
			for _, data := range [][]byte{
				join(replaced(pieces[:fieldWithdrawal], fieldVersion, []byte{3})),
				join(replaced(pieces, fieldVersion, []byte{3})),
				join(replaced(pieces[:fieldSession], fieldVersion, []byte{2})),
			} {
				if got, err := DecodeEvent(data); !errors.Is(err, ErrCorrupt) {
					t.Errorf("DecodeEvent(version %d of %v) = %s, %v, want %v", data[0], e.Type, eventText(got), err, ErrCorrupt)
				}
			}
			continue
		}
		if got, err := DecodeEvent(join(replaced(pieces[:fieldWithdrawal], fieldVersion, []byte{3}))); err != nil || !sameEvent(got, e) {
			t.Errorf("DecodeEvent(version 3 of %s) = %s, %v, want it back", eventText(e), eventText(got), err)
		}
		v2 := join(replaced(pieces[:fieldSession], fieldVersion, []byte{2}))
		e.Spender, e.Memo = "", ""
		v1 := join(replaced(eventPieces(&e)[:fieldSpender], fieldVersion, []byte{1}))
		if e.Type.IsSession() {
			sessions++
			v2WithTerms := join(replaced(pieces, fieldVersion, []byte{2}))
			for version, data := range map[string][]byte{"1": v1, "2": v2, "2 with its terms": v2WithTerms} {
				if got, err := DecodeEvent(data); !errors.Is(err, ErrCorrupt) {
					t.Errorf("DecodeEvent(version %s of %v) = %s, %v, want %v", version, e.Type, eventText(got), err, ErrCorrupt)
				}
			}
			continue
		}
		if got, err := DecodeEvent(v1); err != nil || got != e {
			t.Errorf("DecodeEvent(version 1 of %v) = %+v, %v, want %+v", e.Type, got, err, e)
		}
		if got, err := DecodeEvent(v2); err != nil || got.Spender != pieceSpender(pieces) || got.Type != e.Type {
			t.Errorf("DecodeEvent(version 2 of %v) = %+v, %v, want it with its spender", e.Type, got, err)
		}
	}
	if sessions == 0 || withdrawals == 0 || settings == 0 {
		t.Fatalf("%d session, %d withdrawal and %d setting events among the samples, want some of each", sessions, withdrawals, settings)
	}
	for _, a := range sampleAccounts(t) {
		if a.withdrawal != nil {
			continue // version 4 came with them
		}
		pieces := accountPiecesOf(a, 4)
		for _, version := range []byte{2, 3} {
			older := join(replaced(pieces[:len(pieces)-1], accountVersion, []byte{version})) // without the withdrawal
			if got, err := DecodeAccount(older); err != nil || !snapshotOf(got).equal(snapshotOf(a)) {
				t.Errorf("DecodeAccount(version %d of %q) = %v, want it back", version, a.ID, err)
			}
		}
	}
	plain := sampleAccounts(t)[1] // holds, no spenders
	pieces := accountPiecesOf(plain, 4)
	v1 := replaced(pieces[:len(pieces)-2], accountVersion, []byte{1}) // without the spend count and the withdrawal
	for i := accountFieldCount; i < len(v1); i++ {
		v1[i] = v1[i][:len(v1[i])-2] // each hold without its empty spender and memo
	}
	got, err := DecodeAccount(join(v1))
	if err != nil || !snapshotOf(got).equal(snapshotOf(plain)) {
		t.Errorf("DecodeAccount(version 1) = %+v, %v, want %+v", got, err, snapshotOf(plain))
	}
}

// pieceSpender decodes the spender piece of an event's pieces.
func pieceSpender(pieces [][]byte) SpenderID {
	d := decoder{data: pieces[fieldSpender]}
	return SpenderID(d.string(SpenderIDBytesMax))
}

// sessionOpened returns a valid session opening: 3 a second for at most
// 100 seconds, reserving 300.
func sessionOpened() Event {
	return Event{Type: EventSessionOpened, ID: "s", Ledger: testLedger, Time: now0, From: alice, To: bob, Fees: testFees,
		Amount: NewAmount(300), FeeBps: 250,
		Session: &SessionTerms{Rate: NewAmount(3), MaxSeconds: 100, Created: now0, StartBy: now0 + 60e9}}
}

func TestDecodeEventRejectsSessionEventsNoSessionCouldProduce(t *testing.T) {
	with := func(typ EventType, change func(*Event, *SessionTerms)) [][]byte {
		e := sessionOpened()
		terms := *e.Session
		e.Type, e.Session = typ, &terms
		if typ == EventSessionEnded {
			e.Captured, e.Fee = NewAmount(126), NewAmount(3)
		}
		change(&e, &terms)
		return eventPieces(&e)
	}
	opened := sessionOpened()
	good := eventPieces(&opened)
	tests := []struct {
		name   string
		pieces [][]byte
	}{
		{"version 2", replaced(good, fieldVersion, []byte{2})},
		{"version 2 without its terms", replaced(good[:fieldSession], fieldVersion, []byte{2})},
		{"zero rate", with(EventSessionOpened, func(e *Event, t *SessionTerms) { t.Rate, e.Amount = Amount{}, Amount{} })},
		{"zero rate, reservation kept", with(EventSessionOpened, func(e *Event, t *SessionTerms) { t.Rate = Amount{} })},
		{"zero maximum seconds", with(EventSessionOpened, func(e *Event, t *SessionTerms) { t.MaxSeconds, e.Amount = 0, Amount{} })},
		{"negative maximum seconds", with(EventSessionAccepted, func(e *Event, t *SessionTerms) { t.MaxSeconds = -100 })},
		{"maximum seconds above its limit", with(EventSessionStarted, func(e *Event, t *SessionTerms) {
			t.MaxSeconds, t.Rate, e.Amount = SessionSecondsMax+1, NewAmount(1), NewAmount(SessionSecondsMax+1)
		})},
		{"reservation one above rate × maximum", with(EventSessionOpened, func(e *Event, t *SessionTerms) { e.Amount = NewAmount(301) })},
		{"reservation one below rate × maximum", with(EventSessionCancelled, func(e *Event, t *SessionTerms) { e.Amount = NewAmount(299) })},
		{"rate × maximum past 2^128-1", with(EventSessionExpired, func(e *Event, t *SessionTerms) {
			t.Rate, t.MaxSeconds, e.Amount = MaxAmount(), 2, maxMinus(1)
		})},
		{"a hold's timeout", with(EventSessionOpened, func(e *Event, t *SessionTerms) { e.Timeout = 60e9 })},
		{"a hold's deadline", with(EventSessionExpired, func(e *Event, t *SessionTerms) { e.Deadline = now0 + 60e9 })},
		{"a fee on an opening", with(EventSessionOpened, func(e *Event, t *SessionTerms) { e.Fee = NewAmount(1) })},
		{"a fee on a cancellation", with(EventSessionCancelled, func(e *Event, t *SessionTerms) { e.Fee = NewAmount(1) })},
		{"an end charged above its reservation", with(EventSessionEnded, func(e *Event, t *SessionTerms) { e.Captured = NewAmount(301) })},
		{"an end's fee above its charge", with(EventSessionEnded, func(e *Event, t *SessionTerms) { e.Fee = NewAmount(127) })},
		{"to its payer", with(EventSessionOpened, func(e *Event, t *SessionTerms) { e.To = e.From })},
		{"without a client id", with(EventSessionAccepted, func(e *Event, t *SessionTerms) { e.ID = "" })},
		{"terms cut short", replaced(good, fieldSession, good[fieldSession][:len(good[fieldSession])-1])},
		{"terms with a byte more", replaced(good, fieldSession, append(append([]byte(nil), good[fieldSession]...), 0))},
		{"terms on an event of another type", replaced(eventPieces(&Event{Type: EventCharged, ID: "k", Ledger: testLedger, Time: now0,
			From: alice, To: bob, Fees: testFees, Amount: NewAmount(100)}), fieldSession, good[fieldSession])},
	}
	for typ := EventSessionOpened; typ <= EventSessionExpired; typ++ {
		data := join(with(typ, func(*Event, *SessionTerms) {}))
		if _, err := DecodeEvent(data); err != nil {
			t.Fatalf("DecodeEvent(good %v) = %v, want success: the cases below change one thing each", typ, err)
		}
	}
	for _, tt := range tests {
		data := join(tt.pieces)
		if got, err := DecodeEvent(data); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: DecodeEvent(%x) = %s, %v, want %v", tt.name, data, eventText(got), err, ErrCorrupt)
		}
	}
}

// sampleSessions returns open sessions in each open state, one of them
// with every field at its largest.
func sampleSessions(t *testing.T) []*Session {
	t.Helper()
	b := newTestBook(t, 100_000_000)
	var sessions []*Session
	for i, c := range []Command{
		{Type: CommandSessionOpen, ID: "s-requested", From: alice, To: bob, Rate: NewAmount(3), MaxSeconds: 100, Timeout: 60e9, FeeBps: 250},
		{Type: CommandSessionOpen, ID: "s-assigned", From: alice, To: bob, Rate: NewAmount(1), MaxSeconds: 1, Timeout: 1e9,
			Memo: "m", Budget: Budget{Spender: "key_2"}},
		{Type: CommandSessionOpen, ID: "s-live", From: alice, To: bob, Rate: NewAmount(5), MaxSeconds: SessionSecondsMax,
			Timeout: SessionStartWithinMax},
	} {
		at := now0 + 100e9 + int64(i)
		if _, _, err := b.Execute(&c, at); err != nil {
			t.Fatalf("SessionOpen(%+v) = %v, want success", c, err)
		}
		for _, typ := range []SessionCommandType{SessionAccept, SessionStart}[:i] {
			if _, _, err := b.ExecuteSession(c.ID, SessionCommand{Type: typ, By: bob}, at); err != nil {
				t.Fatalf("ExecuteSession(%q, %v) = %v, want success", c.ID, typ, err)
			}
		}
		sessions = append(sessions, b.Session(c.ID))
	}
	largest := SessionOf(&largestSessionEvents()[0])
	largest.State, largest.Terms.Accepted, largest.Terms.Started = SessionLive, math.MaxInt64, math.MinInt64
	return append(sessions, &largest)
}

func TestOpenSessionsRoundTripThroughTheirSnapshotRecords(t *testing.T) {
	states := make(map[SessionState]bool)
	for _, s := range sampleSessions(t) {
		states[s.State] = true
		prefix := []byte{0xff}
		data := AppendSession(append([]byte(nil), prefix...), s)
		record := data[len(prefix):]
		if !IsSessionRecord(record) {
			t.Errorf("IsSessionRecord(AppendSession(%q)) = false, want true", s.ID)
		}
		if len(record) > SessionRecordBytesMax {
			t.Errorf("AppendSession(%q) = %d bytes, want at most SessionRecordBytesMax = %d", s.ID, len(record), SessionRecordBytesMax)
		}
		got, err := DecodeSession(record)
		if err != nil || *got != *s {
			t.Errorf("DecodeSession(AppendSession(%+v)) = %+v, %v, want it back", *s, got, err)
		}
		for n := range len(record) {
			if got, err := DecodeSession(record[:n]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeSession(%d of %d bytes of %q) = %+v, %v, want %v", n, len(record), s.ID, got, err, ErrCorrupt)
			}
		}
	}
	for _, want := range []SessionState{SessionRequested, SessionAssigned, SessionLive} {
		if !states[want] {
			t.Errorf("no sample session %v, want every open state", want)
		}
	}
	// An account's record is never taken for a session's, whatever its version.
	for _, a := range sampleAccounts(t) {
		if record := AppendAccount(nil, a); IsSessionRecord(record) {
			t.Errorf("IsSessionRecord(AppendAccount(%q)) = true, want false", a.ID)
		}
	}
}

// TestTheLargestSessionRecordFitsItsBound: SessionRecordBytesMax must hold
// any record AppendSession writes, or the engine's snapshot refuses it.
// The largest session has every id, amount and time at its largest.
func TestTheLargestSessionRecordFitsItsBound(t *testing.T) {
	largest := sampleSessions(t)[3]
	largest.FeeBps = BasisPointsMax
	record := AppendSession(nil, largest)
	if len(record) > SessionRecordBytesMax {
		t.Fatalf("AppendSession(largest) = %d bytes, want at most SessionRecordBytesMax = %d", len(record), SessionRecordBytesMax)
	}
	if got, err := DecodeSession(record); err != nil || *got != *largest {
		t.Fatalf("DecodeSession(AppendSession(largest)) = %+v, %v, want it back", got, err)
	}
}

func TestDecodeSessionRefusesClosedSessionsAndOtherRecords(t *testing.T) {
	var records [][]byte
	names := []string{}
	for _, e := range sampleEvents(t) {
		if e.Type.IsSession() && !e.Type.IsSessionClose() {
			continue
		}
		records = append(records, AppendEvent([]byte{sessionRecordTag}, &e))
		names = append(names, e.Type.String()+" behind a session tag")
	}
	for _, a := range sampleAccounts(t) {
		records = append(records, AppendAccount(nil, a))
		names = append(names, "an account's record "+string(a.ID))
	}
	opened := sessionOpened()
	records = append(records, nil, []byte{sessionRecordTag}, AppendEvent(nil, &opened),
		append(AppendSession(nil, &Session{ID: "s", Ledger: testLedger, From: alice, To: bob, Fees: testFees, State: SessionRequested,
			Terms: *opened.Session, Reserved: opened.Amount}), 0))
	names = append(names, "nothing", "a tag alone", "an opening without its tag", "a trailing byte")
	for i, record := range records {
		if got, err := DecodeSession(record); !errors.Is(err, ErrCorrupt) {
			t.Errorf("DecodeSession(%s) = %+v, %v, want %v", names[i], got, err, ErrCorrupt)
		}
	}
}

// TestInternedDecodingIsTheSameWithoutTheIDsAllocations: an interning
// decoder gives the same events, and once it has seen an event's account,
// ledger and spender ids, decoding the next such event allocates only its
// client id.
func TestInternedDecodingIsTheSameWithoutTheIDsAllocations(t *testing.T) {
	var in Interner
	for _, e := range sampleEvents(t) {
		record := AppendEvent(nil, &e)
		plain, err := DecodeEvent(record)
		if err != nil {
			t.Fatal(err)
		}
		interned, err := DecodeEventInterned(record, &in)
		if err != nil || !sameEvent(interned, plain) {
			t.Fatalf("DecodeEventInterned = %+v, %v, want %+v", interned, err, plain)
		}
	}
	charge := Event{Type: EventCharged, ID: "c-1", Ledger: "test:USDC", Time: 1, From: "alice", To: "bob",
		Fees: FeesAccountID("test:USDC"), Amount: NewAmount(100), Spender: "key_1"}
	record := AppendEvent(nil, &charge)
	if _, err := DecodeEventInterned(record, &in); err != nil {
		t.Fatal(err)
	}
	plain := testing.AllocsPerRun(100, func() { _, _ = DecodeEvent(record) })
	interned := testing.AllocsPerRun(100, func() { _, _ = DecodeEventInterned(record, &in) })
	if interned != 1 || plain < 5 {
		t.Fatalf("allocations per decode: %v interned, %v plain; want 1 (the client id) and one per id", interned, plain)
	}
}
