package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// The binary encodings of events (log records) and accounts (snapshot
// records). Every field is written in a fixed order: uvarints, zig-zag
// varints for times, length-prefixed strings, amounts as two uvarints (high,
// low). A version byte leads, so the format can change without guessing.
// Version 2 added spenders and memos (budgets and metadata); version 3
// added sessions (their events end with the session's terms); version 4
// added withdrawals (their events end with the withdrawal's terms, an
// account's record with its withdrawal reservation); version 5 added
// alerts (alerts.go: a debit's event with markers has the high bit of its
// type byte set and ends with them, so other events keep their size; an account's
// record has its low-balance threshold and, per spender, the caps
// reported). Records of earlier versions still decode, without what came
// later.

const (
	codecVersion    = 5
	codecVersionMin = 1
)

// holdsPerRecordMax and spendsPerRecordMax bound the holds and spenders a
// snapshot record may declare, so a corrupt count cannot allocate without
// limit. Looser than HoldsPerAccountMax and SpendersPerAccountMax on
// purpose: Decide enforces those on new holds and spenders, while an
// account rebuilt from a log written before them may hold more and must
// still load (its record's size is what the engine bounds).
const (
	holdsPerRecordMax  = 1 << 20
	spendsPerRecordMax = 1 << 20
)

// ErrCorrupt reports bytes that are not a record this version wrote.
var ErrCorrupt = errors.New("ledger: corrupt record")

// AppendEvent appends the encoding of e to buf.
func AppendEvent(buf []byte, e *Event) []byte {
	typeByte := byte(e.Type)
	if e.marked() {
		typeByte |= eventMarked
	}
	buf = append(buf, codecVersion, typeByte)
	buf = appendString(buf, string(e.ID))
	buf = appendString(buf, string(e.Ledger))
	buf = binary.AppendVarint(buf, e.Time)
	buf = appendString(buf, string(e.Account))
	buf = append(buf, byte(e.Kind))
	buf = appendString(buf, string(e.From))
	buf = appendString(buf, string(e.To))
	buf = appendString(buf, string(e.Fees))
	buf = appendAmount(buf, e.Amount)
	buf = appendAmount(buf, e.Fee)
	buf = appendAmount(buf, e.Captured)
	buf = binary.AppendUvarint(buf, uint64(e.FeeBps))
	buf = binary.AppendVarint(buf, e.Timeout)
	buf = binary.AppendVarint(buf, e.Deadline)
	buf = appendString(buf, string(e.Spender))
	buf = appendString(buf, e.Memo)
	if e.Type.IsSession() {
		t := e.Session
		buf = appendAmount(buf, t.Rate)
		buf = binary.AppendVarint(buf, t.MaxSeconds)
		for _, at := range [...]int64{t.Created, t.StartBy, t.Accepted, t.Started, t.Ended} {
			buf = binary.AppendVarint(buf, at)
		}
	}
	if e.Type.IsWithdrawal() {
		w := e.Withdrawal
		buf = appendAmount(buf, w.Requested)
		buf = appendAmount(buf, w.Released)
		buf = appendString(buf, string(w.ReleasedID))
	}
	return appendMarkers(buf, e)
}

// Markers: the type byte's high bit (eventMarked) says they end the
// record: a flags byte, then the low-balance threshold crossed, then the
// budget cap exhausted and its value, each present only if flagged. The
// bit, rather than a block that may or may not follow, keeps a record cut
// right before its markers from decoding as an unmarked debit.
const eventMarked = 0x80

const (
	markerLowBalance = 1 << iota
	markerBudget
	markersAll = markerLowBalance | markerBudget
)

// marked reports whether e carries a marker.
func (e *Event) marked() bool { return !e.LowBalance.IsZero() || e.BudgetCap != BudgetCapNone }

func appendMarkers(buf []byte, e *Event) []byte {
	var flags byte
	if !e.LowBalance.IsZero() {
		flags |= markerLowBalance
	}
	if e.BudgetCap != BudgetCapNone {
		flags |= markerBudget
	}
	if flags == 0 {
		return buf
	}
	buf = append(buf, flags)
	if flags&markerLowBalance != 0 {
		buf = appendAmount(buf, e.LowBalance)
	}
	if flags&markerBudget != 0 {
		buf = append(buf, byte(e.BudgetCap))
		buf = appendAmount(buf, e.BudgetLimit)
	}
	return buf
}

// markers decodes what appendMarkers wrote.
func (d *decoder) markers(e *Event) {
	flags := d.byte()
	if flags == 0 || flags&^markersAll != 0 {
		d.fail("marker flags")
		return
	}
	if flags&markerLowBalance != 0 {
		if e.LowBalance = d.amount(); e.LowBalance.IsZero() {
			d.fail("low-balance marker")
		}
	}
	if flags&markerBudget != 0 {
		e.BudgetCap = BudgetCap(d.byte())
		if e.BudgetLimit = d.amount(); e.BudgetCap == BudgetCapNone || e.BudgetCap >= budgetCapEnd || e.BudgetLimit.IsZero() {
			d.fail("budget marker")
		}
	}
}

// DecodeEvent decodes one event written by AppendEvent. It never panics and
// rejects anything malformed, including trailing bytes.
func DecodeEvent(data []byte) (Event, error) { return DecodeEventInterned(data, nil) }

// Interner hands out one string per distinct account, ledger or spender
// id, so that a reader decoding event after event (a subscription) does not
// allocate the same few ids again for every event: of an event's strings,
// only its client id and memo are then new. It holds at most
// internedMax ids (it starts over when full). Not safe for concurrent use.
type Interner struct{ ids map[string]string }

// internedMax bounds an Interner: ids of a few thousand hot accounts.
const internedMax = 4096

func (in *Interner) intern(b []byte) string {
	if s, ok := in.ids[string(b)]; ok { // no allocation: the compiler looks up b in place
		return s
	}
	if in.ids == nil || len(in.ids) == internedMax {
		in.ids = make(map[string]string, internedMax)
	}
	s := string(b)
	in.ids[s] = s
	return s
}

// DecodeEventInterned is DecodeEvent with the event's account, ledger and
// spender ids taken from in (nil: none).
func DecodeEventInterned(data []byte, in *Interner) (Event, error) {
	d := decoder{data: data, interner: in}
	version := d.version()
	typeByte := d.byte()
	marked := typeByte&eventMarked != 0
	e := Event{Type: EventType(typeByte &^ eventMarked)}
	if e.Type == 0 || e.Type >= eventTypeEnd || (marked && version < 5) {
		d.fail("event type")
	}
	e.ID = TransferID(d.string(TransferIDBytesMax))
	e.Ledger = LedgerID(d.id(LedgerIDBytesMax))
	e.Time = d.varint()
	e.Account = AccountID(d.id(systemIDBytesMax))
	e.Kind = d.kind()
	e.From = AccountID(d.id(systemIDBytesMax))
	e.To = AccountID(d.id(systemIDBytesMax))
	e.Fees = AccountID(d.id(systemIDBytesMax))
	e.Amount = d.amount()
	e.Fee = d.amount()
	e.Captured = d.amount()
	e.FeeBps = d.feeBps()
	e.Timeout = d.varint()
	e.Deadline = d.varint()
	if version >= 2 {
		e.Spender = SpenderID(d.id(SpenderIDBytesMax))
		e.Memo = d.string(MemoBytesMax)
	}
	if e.Type.IsSession() {
		if version < 3 {
			d.fail("session event before version 3")
		}
		t := &SessionTerms{Rate: d.amount(), MaxSeconds: d.varint()}
		t.Created, t.StartBy, t.Accepted, t.Started, t.Ended = d.varint(), d.varint(), d.varint(), d.varint(), d.varint()
		e.Session = t
	}
	if e.Type.IsWithdrawal() {
		if version < 4 {
			d.fail("withdrawal event before version 4")
		}
		e.Withdrawal = &WithdrawalTerms{Requested: d.amount(), Released: d.amount(), ReleasedID: TransferID(d.string(TransferIDBytesMax))}
	}
	if e.Type == EventLowBalanceSet && version < 5 {
		d.fail("low-balance setting before version 5")
	}
	if marked {
		d.markers(&e)
	}
	if err := d.finish(); err != nil {
		return Event{}, err
	}
	if err := validateEvent(&e); err != nil {
		return Event{}, err
	}
	return e, nil
}

// systemIDBytesMax bounds account ids in records: system ids embed a ledger id.
const systemIDBytesMax = AccountIDBytesMax + LedgerIDBytesMax + 16

// validateEvent rejects decoded events that Apply could not apply: replay
// must never panic on bytes that passed DecodeEvent.
func validateEvent(e *Event) error {
	posted := e.Amount
	if e.Type == EventCaptured || e.Type == EventSessionEnded {
		if e.Captured.Cmp(e.Amount) > 0 {
			return fmt.Errorf("%w: captured above held", ErrCorrupt)
		}
		posted = e.Captured
	}
	if e.Fee.Cmp(posted) > 0 {
		return fmt.Errorf("%w: fee above amount", ErrCorrupt)
	}
	if (e.Spender != "" || e.Memo != "") && (e.Type == EventAccountCreated || e.Type == EventCredited || e.Type == EventPaidOut || e.Type.IsWithdrawal()) {
		return fmt.Errorf("%w: spender or memo on a %v event", ErrCorrupt, e.Type)
	}
	if (!e.LowBalance.IsZero() && !e.Type.lowersAvailable()) || (e.BudgetCap != BudgetCapNone && (!e.Type.isBudgeted() || e.Spender == "")) {
		return fmt.Errorf("%w: alert marker on a %v event", ErrCorrupt, e.Type)
	}
	if e.Type == EventAccountCreated || e.Type == EventLowBalanceSet {
		return validateAccountEvent(e)
	}
	if e.From == "" || e.To == "" || e.From == e.To || e.ID == "" || e.Fees == e.From || e.Fees == e.To {
		return fmt.Errorf("%w: transfer without distinct accounts", ErrCorrupt)
	}
	if !e.Fee.IsZero() && (e.Fees == "" || (e.Type != EventCharged && e.Type != EventCaptured && e.Type != EventSessionEnded)) {
		return fmt.Errorf("%w: fee that no account receives", ErrCorrupt)
	}
	if e.Type.IsSession() {
		return validateSession(e)
	}
	if e.Type.IsWithdrawal() {
		return validateWithdrawal(e)
	}
	return nil
}

// validateAccountEvent rejects an account's own events (its creation, a
// change of its settings) that name anything but the account.
func validateAccountEvent(e *Event) error {
	switch {
	case e.Account == "":
		return fmt.Errorf("%w: %v without an account id", ErrCorrupt, e.Type)
	case e.Type == EventLowBalanceSet && (e.ID != "" || e.From != "" || e.To != "" || e.Fees != "" || e.Spender != "" || e.Memo != "" ||
		!e.Fee.IsZero() || !e.Captured.IsZero() || e.Timeout != 0 || e.Deadline != 0 || e.FeeBps != 0):
		return fmt.Errorf("%w: %v with a transfer's fields", ErrCorrupt, e.Type)
	}
	return nil
}

// validateWithdrawal rejects withdrawal events that the rules could not
// have produced: a user account's, to its ledger's chain account, with
// nothing of a hold or a fee, reserving no more than was requested (and
// paying exactly what was asked), releasing an amount only with its id.
func validateWithdrawal(e *Event) error {
	w := e.Withdrawal
	switch {
	case e.To != ChainAccountID(e.Ledger) || e.Fees != "" || e.From[0] == SystemPrefix[0]:
		return fmt.Errorf("%w: withdrawal between the wrong accounts", ErrCorrupt)
	case !e.Captured.IsZero() || e.FeeBps != 0 || e.Timeout != 0 || e.Deadline != 0:
		return fmt.Errorf("%w: withdrawal with a hold's or a fee's fields", ErrCorrupt)
	case w.ReleasedID == "" && !w.Released.IsZero():
		return fmt.Errorf("%w: withdrawal released without its id", ErrCorrupt)
	case e.Type == EventWithdrawalReserved && e.Amount.Cmp(w.Requested) > 0:
		return fmt.Errorf("%w: withdrawal reserved above its request", ErrCorrupt)
	case e.Type == EventWithdrawn && e.Amount != w.Requested:
		return fmt.Errorf("%w: withdrawal paid other than its request", ErrCorrupt)
	}
	return nil
}

// validateSession rejects session events that a session could not have
// produced: what Apply and SessionOf assert on.
func validateSession(e *Event) error {
	t := e.Session
	switch {
	case t.Rate.IsZero() || t.MaxSeconds <= 0 || t.MaxSeconds > SessionSecondsMax:
		return fmt.Errorf("%w: session terms", ErrCorrupt)
	case e.Timeout != 0 || e.Deadline != 0:
		return fmt.Errorf("%w: session with a hold deadline", ErrCorrupt)
	}
	if reserved, ok := t.Rate.mulSmall(uint64(t.MaxSeconds)); !ok || reserved != e.Amount {
		return fmt.Errorf("%w: session reservation is not rate × maximum", ErrCorrupt)
	}
	return nil
}

// sessionRecordTag leads a session's snapshot record. An account's record
// leads with its codec version, which is never this.
const sessionRecordTag = 0xE5

// SessionRecordBytesMax bounds a session's snapshot record: its tag and
// one event with a memo of MemoBytesMax.
const SessionRecordBytesMax = 1 + 2 + // tag, version and type
	3*(lengthBytesMax+systemIDBytesMax) + lengthBytesMax + TransferIDBytesMax + lengthBytesMax + LedgerIDBytesMax + 1 + // ids, kind
	4*uvarintBytesMax + 4*amountBytesMax + uvarintBytesMax + 2*uvarintBytesMax + // time, account, amounts, fee rate, timeout, deadline
	lengthBytesMax + SpenderIDBytesMax + lengthBytesMax + MemoBytesMax + // spender, memo
	amountBytesMax + 6*uvarintBytesMax // terms

// IsSessionRecord reports whether a snapshot record is a session's
// (AppendSession) rather than an account's.
func IsSessionRecord(record []byte) bool { return len(record) > 0 && record[0] == sessionRecordTag }

// AppendSession appends the snapshot record of an open session: its tag
// and the event that would leave it as it is (every session event carries
// the whole session).
func AppendSession(buf []byte, s *Session) []byte {
	e := s.event(stateEvents[s.State], 0)
	return AppendEvent(append(buf, sessionRecordTag), &e)
}

var stateEvents = [...]EventType{
	SessionRequested: EventSessionOpened,
	SessionAssigned:  EventSessionAccepted,
	SessionLive:      EventSessionStarted,
}

// DecodeSession decodes a record written by AppendSession.
func DecodeSession(record []byte) (*Session, error) {
	if !IsSessionRecord(record) {
		return nil, fmt.Errorf("%w: not a session record", ErrCorrupt)
	}
	e, err := DecodeEvent(record[1:])
	if err != nil {
		return nil, err
	}
	if e.Type.IsSessionClose() || !e.Type.IsSession() {
		return nil, fmt.Errorf("%w: snapshot of a session that is not open", ErrCorrupt)
	}
	s := SessionOf(&e)
	return &s, nil
}

// AppendAccount appends the snapshot encoding of a, its open holds included.
func AppendAccount(buf []byte, a *Account) []byte {
	buf = append(buf, codecVersion)
	buf = appendString(buf, string(a.ID))
	buf = appendString(buf, string(a.Ledger))
	buf = append(buf, byte(a.Kind))
	buf = appendAmount(buf, a.DebitsPosted)
	buf = appendAmount(buf, a.CreditsPosted)
	buf = appendAmount(buf, a.DebitsPending)
	buf = appendAmount(buf, a.CreditsPending)
	buf = binary.AppendUvarint(buf, uint64(len(a.holds)))
	for _, h := range a.Holds() {
		buf = appendString(buf, string(h.ID))
		buf = appendString(buf, string(h.To))
		buf = appendString(buf, string(h.Fees))
		buf = appendAmount(buf, h.Amount)
		buf = binary.AppendUvarint(buf, uint64(h.FeeBps))
		buf = binary.AppendVarint(buf, h.Created)
		buf = binary.AppendVarint(buf, h.Timeout)
		buf = binary.AppendVarint(buf, h.Deadline)
		buf = appendString(buf, string(h.Spender))
		buf = appendString(buf, h.Memo)
	}
	buf = binary.AppendUvarint(buf, uint64(len(a.spends)))
	for _, id := range slices.Sorted(maps.Keys(a.spends)) {
		s := a.spends[id]
		buf = appendString(buf, string(id))
		buf = appendAmount(buf, s.Total)
		buf = binary.AppendVarint(buf, s.Day)
		buf = appendAmount(buf, s.DayTotal)
		buf = appendAmount(buf, s.dayReported)
		buf = appendAmount(buf, s.totalReported)
	}
	if w := a.withdrawal; w != nil {
		buf = append(buf, 1)
		buf = appendString(buf, string(w.ID))
		buf = appendAmount(buf, w.Amount)
		buf = appendAmount(buf, w.Requested)
		buf = binary.AppendVarint(buf, w.Created)
	} else {
		buf = append(buf, 0)
	}
	return appendAmount(buf, a.LowBalance)
}

// DecodeAccount decodes one account written by AppendAccount.
func DecodeAccount(data []byte) (*Account, error) {
	d := decoder{data: data}
	version := d.version()
	a := &Account{
		ID:     AccountID(d.string(systemIDBytesMax)),
		Ledger: LedgerID(d.string(LedgerIDBytesMax)),
		Kind:   d.kind(),
	}
	a.DebitsPosted, a.CreditsPosted = d.amount(), d.amount()
	a.DebitsPending, a.CreditsPending = d.amount(), d.amount()
	count := d.uvarint()
	if count > holdsPerRecordMax {
		d.fail("hold count")
	}
	for i := uint64(0); i < count && d.err == nil; i++ {
		h := &Hold{From: a.ID}
		h.ID = TransferID(d.string(TransferIDBytesMax))
		h.To = AccountID(d.string(systemIDBytesMax))
		h.Fees = AccountID(d.string(systemIDBytesMax))
		h.Amount = d.amount()
		h.FeeBps = d.feeBps()
		h.Created, h.Timeout, h.Deadline = d.varint(), d.varint(), d.varint()
		if version >= 2 {
			h.Spender = SpenderID(d.string(SpenderIDBytesMax))
			h.Memo = d.string(MemoBytesMax)
		}
		if a.holds == nil {
			a.holds = make(map[TransferID]*Hold)
		}
		if a.holds[h.ID] != nil {
			d.fail("duplicate hold")
		}
		a.holds[h.ID] = h
		a.holdMemoBytes += len(h.Memo)
	}
	if version >= 2 {
		d.spends(a, version)
	}
	if version >= 4 {
		d.withdrawal(a)
	}
	if version >= 5 {
		a.LowBalance = d.amount()
		if !a.LowBalance.IsZero() && a.Kind.IsSystem() {
			d.fail("low-balance threshold of a system account")
		}
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	if err := checkAccount(a); err != nil && a.ID != "" {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if a.ID == "" {
		return nil, fmt.Errorf("%w: account without id", ErrCorrupt)
	}
	return a, nil
}

// spends decodes an account's spenders, in increasing id order.
func (d *decoder) spends(a *Account, version byte) {
	count := d.uvarint()
	if count > spendsPerRecordMax {
		d.fail("spender count")
	}
	var previous SpenderID
	for i := uint64(0); i < count && d.err == nil; i++ {
		id := SpenderID(d.string(SpenderIDBytesMax))
		if id == "" || (i > 0 && id <= previous) {
			d.fail("spender order")
			return
		}
		previous = id
		s := &spending{Spend: Spend{Total: d.amount(), Day: d.varint(), DayTotal: d.amount()}}
		if version >= 5 {
			s.dayReported, s.totalReported = d.amount(), d.amount()
		}
		if s.DayTotal.Cmp(s.Total) > 0 {
			d.fail("spend above its total")
		}
		if a.spends == nil {
			a.spends = make(map[SpenderID]*spending)
		}
		a.spends[id] = s
	}
}

// withdrawal decodes an account's withdrawal reservation, if it has one.
func (d *decoder) withdrawal(a *Account) {
	switch d.byte() {
	case 0:
	case 1:
		w := &Withdrawal{ID: TransferID(d.string(TransferIDBytesMax))}
		w.Amount, w.Requested, w.Created = d.amount(), d.amount(), d.varint()
		if w.ID == "" {
			d.fail("withdrawal id")
		}
		a.withdrawal = w
	default:
		d.fail("withdrawal presence")
	}
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func appendAmount(buf []byte, a Amount) []byte {
	buf = binary.AppendUvarint(buf, a.hi)
	return binary.AppendUvarint(buf, a.lo)
}

// decoder reads fields in order and remembers the first error, so decoding
// code reads as a list of fields.
type decoder struct {
	data     []byte
	err      error
	interner *Interner // for ids; nil: every string is new
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s", ErrCorrupt, what)
	}
	d.data = nil
}

func (d *decoder) version() byte {
	v := d.byte()
	if v < codecVersionMin || v > codecVersion {
		d.fail("version")
	}
	return v
}

func (d *decoder) byte() byte {
	if len(d.data) == 0 {
		d.fail("length")
		return 0
	}
	b := d.data[0]
	d.data = d.data[1:]
	return b
}

func (d *decoder) kind() Kind {
	k := Kind(d.byte())
	if k >= kindCount {
		d.fail("kind")
	}
	return k
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.data)
	if n <= 0 {
		d.fail("uvarint")
		return 0
	}
	d.data = d.data[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.data)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.data = d.data[n:]
	return v
}

func (d *decoder) feeBps() uint32 {
	v := d.uvarint()
	if v > BasisPointsMax {
		d.fail("fee basis points")
	}
	return uint32(v)
}

func (d *decoder) string(max int) string {
	n := d.uvarint()
	if n > uint64(max) || n > uint64(len(d.data)) {
		d.fail("string length")
		return ""
	}
	s := string(d.data[:n])
	d.data = d.data[n:]
	return s
}

// id reads a string that names something many records name (an account,
// a ledger, a spender): through the interner, if any.
func (d *decoder) id(max int) string {
	if d.interner == nil {
		return d.string(max)
	}
	n := d.uvarint()
	if n > uint64(max) || n > uint64(len(d.data)) {
		d.fail("string length")
		return ""
	}
	s := ""
	if n > 0 {
		s = d.interner.intern(d.data[:n])
	}
	d.data = d.data[n:]
	return s
}

func (d *decoder) amount() Amount {
	hi := d.uvarint()
	return Amount{hi: hi, lo: d.uvarint()}
}

func (d *decoder) finish() error {
	if d.err == nil && len(d.data) != 0 {
		d.fail("trailing bytes")
	}
	return d.err
}
