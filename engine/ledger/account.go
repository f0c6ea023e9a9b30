package ledger

import "slices"

// AccountID names an account. User accounts are chosen by the embedder;
// system accounts (fees, chain) start with SystemPrefix, which user ids may not.
type AccountID string

// LedgerID names a ledger: an (environment, asset) pair such as "test:USDC".
// Accounts of different ledgers never exchange money.
type LedgerID string

// TransferID is the client id of an operation: its idempotency key, unique
// across the whole engine.
type TransferID string

// SystemPrefix starts the id of every account the engine creates itself.
const SystemPrefix = "$"

// Limits on identifiers, so nothing grows without bound on client input.
const (
	AccountIDBytesMax  = 64
	LedgerIDBytesMax   = 64
	TransferIDBytesMax = 128
)

// FeesAccountID returns the id of the ledger's platform fee account.
func FeesAccountID(ledger LedgerID) AccountID {
	return AccountID(SystemPrefix + "fees:" + string(ledger))
}

// ChainAccountID returns the id of the ledger's chain boundary account, which
// mirrors money on the chain: deposits are debited from it, so it may go negative.
func ChainAccountID(ledger LedgerID) AccountID {
	return AccountID(SystemPrefix + "chain:" + string(ledger))
}

// Kind is an account's role, which decides whether it may overdraw.
type Kind uint8

const (
	KindConsumer Kind = iota // a pool that pays for calls
	KindSupplier             // earnings of a service that is paid
	KindFees                 // the platform's fees of one ledger
	KindChain                // the on-chain boundary of one ledger
	kindCount
)

// String returns the kind's lower-case name.
func (k Kind) String() string {
	switch k {
	case KindConsumer:
		return "consumer"
	case KindSupplier:
		return "supplier"
	case KindFees:
		return "fees"
	case KindChain:
		return "chain"
	}
	return "unknown"
}

// MayOverdraw reports whether the account's debits may exceed its credits.
// Only the chain boundary may: it is the other side of every deposit.
func (k Kind) MayOverdraw() bool { return k == KindChain }

// IsSystem reports whether accounts of this kind are created by the engine.
func (k Kind) IsSystem() bool { return k == KindFees || k == KindChain }

// Account is the double-entry state of one account, as in TigerBeetle:
// cumulative posted and pending debits and credits. Balance = credits -
// debits; Available = CreditsPosted - DebitsPosted - DebitsPending.
//
// An account is owned by one goroutine at a time (its actor, or replay);
// nothing here is safe for concurrent use.
type Account struct {
	ID     AccountID
	Ledger LedgerID
	Kind   Kind

	DebitsPosted   Amount
	CreditsPosted  Amount
	DebitsPending  Amount
	CreditsPending Amount

	// LowBalance is the threshold below which the owner wants to hear that
	// the available amount fell (a debit crossing it is marked: alerts.go);
	// zero is off.
	LowBalance Amount

	// holds are the open holds this account pays for, by id; nil when none,
	// so an idle account costs no map.
	holds map[TransferID]*Hold
	// holdMemoBytes is the sum of the open holds' memo lengths, which
	// HoldMemoBytesPerAccountMax bounds.
	holdMemoBytes int
	// spends are what budgeted spenders have debited, by spender; nil when
	// no debit was budgeted.
	spends map[SpenderID]*spending
	// withdrawal is the reservation of the withdrawal requested on chain,
	// nil when none is pending.
	withdrawal *Withdrawal
}

// Withdrawal is an account's reservation toward the withdrawal its wallet
// requested from the pool: pending debits on the account, pending credits
// on its ledger's chain account, so that what the chain will pay out can
// no longer be spent off chain. An account has at most one, as the pool
// keeps at most one pending withdrawal per wallet: a new request replaces
// it, and the withdrawal's completion releases it.
//
// Rejected alternative: a hold without a deadline in the holds map, as a
// session reserves. Every rule that walks the holds (expiry, capture, void,
// the hold limits, the sessions' checks) would then have to know to leave
// it alone; kept apart, none of them can touch it.
type Withdrawal struct {
	ID        TransferID // the request's client id
	Amount    Amount     // reserved: as much of Requested as was available
	Requested Amount     // what the chain request asked for
	Created   int64      // Unix nanoseconds when it was reserved
}

// Hold is an open pending transfer that reserves Amount of From for To
// until Deadline (Unix nanoseconds).
type Hold struct {
	ID       TransferID
	From     AccountID
	To       AccountID
	Fees     AccountID
	Amount   Amount
	FeeBps   uint32
	Created  int64
	Timeout  int64
	Deadline int64
	Spender  SpenderID // whose budget the hold counts against; empty for none
	Memo     string
}

// IsSession reports whether the hold is a session's reservation: it has no
// deadline of its own (the session's timers close it) and only the
// session's events capture or release it.
func (h *Hold) IsSession() bool { return h.Timeout == 0 }

// Available returns what the account can spend now. It is zero for an
// overdrawn chain account.
func (a *Account) Available() Amount {
	spent, ok := a.DebitsPosted.Add(a.DebitsPending)
	assert(ok, "debits overflow")
	available, ok := a.CreditsPosted.Sub(spent)
	if !ok {
		return Amount{}
	}
	return available
}

// Reserved returns what open holds and the withdrawal reservation reserve.
func (a *Account) Reserved() Amount { return a.DebitsPending }

// Withdrawal returns the account's withdrawal reservation, or nil. The
// caller must not change it.
func (a *Account) Withdrawal() *Withdrawal { return a.withdrawal }

// Hold returns the open hold with this id, or nil.
func (a *Account) Hold(id TransferID) *Hold { return a.holds[id] }

// Holds returns the open holds, ordered by deadline then id.
func (a *Account) Holds() []*Hold {
	holds := make([]*Hold, 0, len(a.holds))
	for _, h := range a.holds {
		holds = append(holds, h)
	}
	slices.SortFunc(holds, compareHolds)
	return holds
}

func compareHolds(x, y *Hold) int {
	switch {
	case x.Deadline < y.Deadline:
		return -1
	case x.Deadline > y.Deadline:
		return 1
	case x.ID < y.ID:
		return -1
	case x.ID > y.ID:
		return 1
	}
	return 0
}

// NextDeadline returns the earliest deadline of an open hold, and false if
// there is none. Session reservations have none.
func (a *Account) NextDeadline() (int64, bool) {
	var next int64
	found := false
	for _, h := range a.holds {
		if h.IsSession() {
			continue
		}
		if !found || h.Deadline < next {
			next, found = h.Deadline, true
		}
	}
	return next, found
}

// ValidID reports whether s is a usable identifier: 1..max bytes of
// printable ASCII without spaces (so it never holds a key's NUL
// separator).
func ValidID(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// ValidAccountID reports whether id may name a user account.
func ValidAccountID(id AccountID) bool {
	return ValidID(string(id), AccountIDBytesMax) && id[0] != SystemPrefix[0]
}

// ValidLedgerID reports whether id may name a ledger.
func ValidLedgerID(id LedgerID) bool { return ValidID(string(id), LedgerIDBytesMax) }

// ValidTransferID reports whether id may be an operation's client id.
func ValidTransferID(id TransferID) bool { return ValidID(string(id), TransferIDBytesMax) }

// Clone returns a deep copy of a, so two owners never share its holds
// (nor its spends or withdrawal reservation).
func (a *Account) Clone() *Account {
	c := *a
	if a.holds != nil {
		c.holds = make(map[TransferID]*Hold, len(a.holds))
		for id, h := range a.holds {
			held := *h
			c.holds[id] = &held
		}
	}
	if a.spends != nil {
		c.spends = make(map[SpenderID]*spending, len(a.spends))
		for id, s := range a.spends {
			spent := *s
			c.spends[id] = &spent
		}
	}
	if a.withdrawal != nil {
		w := *a.withdrawal
		c.withdrawal = &w
	}
	return &c
}
