package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/tollway/tollway/actors"
	"github.com/tollway/tollway/engine/ledger"
	"github.com/tollway/tollway/wal"
)

// CreateAccount opens an account. The ledger's fee and chain accounts are
// created with its first account. ErrAlreadyExists if the id is taken.
func (e *Engine) CreateAccount(ctx context.Context, a Account) error {
	return e.CreateAccounts(ctx, []Account{a})[0]
}

// CreateAccounts opens many accounts with one commit; the i-th error is the
// i-th account's.
func (e *Engine) CreateAccounts(ctx context.Context, accounts []Account) []error {
	errs := make([]error, len(accounts))
	weight, err := e.enterWith(ctx, len(accounts))
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	defer e.leaveWith(weight)
	lasts, reserved := e.appendCreations(accounts, errs)
	defer e.releaseReservations(reserved)
	for i, last := range lasts {
		if last == nil {
			continue
		}
		if err := wait(ctx, last); err != nil {
			errs[i] = err
			continue
		}
		errs[i] = last.err
	}
	return errs
}

// appendCreations decides the creation events of each account under the
// creation lock, reserves their ids and appends them, so concurrent
// creations of one id (or of one ledger's system accounts) cannot both
// happen, and the log orders a ledger's system accounts before its users.
// lasts[i] is the op to wait on for accounts[i], nil when it failed (errs[i]
// says why).
func (e *Engine) appendCreations(accounts []Account, errs []error) (lasts []*op, reserved []ledger.AccountID) {
	e.createMu.Lock()
	defer e.createMu.Unlock()
	view := reservingDirectory{e}
	lasts = make([]*op, len(accounts))
	var entries []*wal.Entry
	now := e.now()
	for i, a := range accounts {
		events, err := ledger.OpenAccount(view, a.ID, a.Ledger, a.Kind, now)
		if err != nil {
			errs[i] = err
			continue
		}
		for _, event := range events {
			creation := newCreation(event)
			entries = append(entries, &creation.entry)
			e.creating[event.Account] = make(chan struct{})
			reserved = append(reserved, event.Account)
			lasts[i] = creation
		}
	}
	if len(entries) > 0 {
		e.log.AppendBatch(entries)
	}
	return lasts, reserved
}

func (e *Engine) releaseReservations(ids []ledger.AccountID) {
	e.createMu.Lock()
	defer e.createMu.Unlock()
	for _, id := range ids {
		close(e.creating[id])
		delete(e.creating, id)
	}
}

// reservingDirectory sees existing accounts and those being created.
// REQUIRES: e.createMu held.
type reservingDirectory struct{ e *Engine }

func (d reservingDirectory) Lookup(id ledger.AccountID) (ledger.LedgerID, ledger.Kind, bool) {
	if ledgerID, kind, ok := d.e.registry.Lookup(id); ok {
		return ledgerID, kind, true
	}
	if _, ok := d.e.creating[id]; ok {
		return "", 0, true // being created: taken, ledger unknown until durable
	}
	return "", 0, false
}

// Credit funds account from outside the ledger (its chain account): a
// deposit. id is the client id.
func (e *Engine) Credit(ctx context.Context, id TransferID, account AccountID, amount Amount) (Transfer, error) {
	return e.execute(ctx, ledger.Command{Type: ledger.CommandCredit, ID: id, To: account, Amount: amount})
}

// Payout moves amount of account out of the ledger, to its ledger's chain
// account: money that left on chain (a settlement paid to a supplier's
// wallet, the fees it paid, a withdrawal from the pool), so that the chain
// account mirrors the chain. account is a user account or a fee account;
// it cannot overdraw (ErrInsufficientFunds). id is the client id.
func (e *Engine) Payout(ctx context.Context, id TransferID, account AccountID, amount Amount) (Transfer, error) {
	return e.execute(ctx, ledger.Command{Type: ledger.CommandPayout, ID: id, From: account, Amount: amount})
}

// ReserveWithdrawal records a withdrawal that account's wallet requested
// on chain (the pool's WithdrawalRequested), so that what the chain will
// pay out can no longer be spent off chain: it reserves amount, or as much
// of it as account has available, toward its ledger's chain account (the
// account's Balance shows it as Reserved). The pool keeps one pending
// withdrawal per wallet, a new request replacing the old, and so does the
// account: the reservation replaces (releases, in the same event) any
// earlier one. It never overdraws: with nothing available it reserves 0,
// and the request is still recorded. Hold expiry, captures, voids and
// sessions never touch it; CompleteWithdrawal releases it. amount must be
// positive; account is a user account (ErrInvalid otherwise). id is the
// client id: a retry with the same account and amount replays, even after
// a later request replaced the reservation.
func (e *Engine) ReserveWithdrawal(ctx context.Context, id TransferID, account AccountID, amount Amount) (Transfer, error) {
	return e.execute(ctx, ledger.Command{Type: ledger.CommandReserveWithdrawal, ID: id, From: account, Amount: amount})
}

// CompleteWithdrawal records a withdrawal the pool paid (its Withdrawn):
// it releases account's withdrawal reservation, if any, and pays amount
// (what the chain paid, possibly 0) out to the ledger's chain account, as
// Payout does, in one event. It never overdraws: amount above what
// account has available once its reservation is released is
// ErrInsufficientFunds, and changes nothing. id is the client id.
func (e *Engine) CompleteWithdrawal(ctx context.Context, id TransferID, account AccountID, amount Amount) (Transfer, error) {
	return e.execute(ctx, ledger.Command{Type: ledger.CommandCompleteWithdrawal, ID: id, From: account, Amount: amount})
}

// Charge applies a charge: see the Charge type.
func (e *Engine) Charge(ctx context.Context, c Charge) (Transfer, error) {
	return e.execute(ctx, e.chargeCommand(&c))
}

func (e *Engine) chargeCommand(c *Charge) ledger.Command {
	return ledger.Command{
		Type: ledger.CommandCharge, ID: c.ID, From: c.From, To: c.To, Amount: c.Amount, FeeBps: e.options.FeeBps,
		Memo: c.Memo, Budget: c.Budget,
	}
}

// Hold reserves funds: see the Hold type.
func (e *Engine) Hold(ctx context.Context, h Hold) (Transfer, error) {
	return e.execute(ctx, ledger.Command{
		Type: ledger.CommandHold, ID: h.ID, From: h.From, To: h.To, Amount: h.Amount,
		FeeBps: e.options.FeeBps, Timeout: int64(h.Timeout), Memo: h.Memo, Budget: h.Budget,
	})
}

// Capture posts amount (at most the held amount) of an open hold to its
// payee, less the fee locked when it was placed, and releases the rest.
// Capturing again with the same amount returns the recorded result; any
// other change of a closed hold is ErrInvalidState.
func (e *Engine) Capture(ctx context.Context, hold TransferID, amount Amount) (Transfer, error) {
	return e.execute(ctx, ledger.Command{Type: ledger.CommandCapture, ID: hold, Amount: amount})
}

// Void releases an open hold. Voiding a voided hold succeeds again; voiding
// a captured or expired hold is ErrInvalidState.
func (e *Engine) Void(ctx context.Context, hold TransferID) error {
	_, err := e.execute(ctx, ledger.Command{Type: ledger.CommandVoid, ID: hold})
	return err
}

// execute runs one command to its durable answer.
func (e *Engine) execute(ctx context.Context, c ledger.Command) (Transfer, error) {
	weight, err := e.enterWith(ctx, 1)
	if err != nil {
		return Transfer{}, err
	}
	defer e.leaveWith(weight)
	return e.run(ctx, c)
}

// run is execute within a call that has entered and admitted c.
func (e *Engine) run(ctx context.Context, c ledger.Command) (Transfer, error) {
	o := newOp(c)
	replay, err := e.prepare(ctx, o, e.accountsOf(&o.command, commandAccounts{}), claimWaiting)
	if err != nil || o.decider == nil {
		return replay, err
	}
	e.registry.Send(o.decider, o)
	if err := wait(ctx, o); err != nil {
		return Transfer{}, err
	}
	return o.result()
}

// claimMode says what prepare does when another operation holds the client
// id: wait for it to be answered (single calls), or refuse with
// errClaimedHere (batches, whose unsent ops must never wait on each other).
type claimMode bool

const (
	claimWaiting  claimMode = true
	claimOrRefuse claimMode = false
)

var errClaimedHere = errors.New("client id claimed by an operation in flight")

// prepare validates o's command against the accounts it names (looked up
// by the caller), claims its client id and checks it against the transfer
// index. Either o is then ready to send to its decider (o.decider; the
// claim is released when o is answered, by complete), or prepare returns
// the final answer: a replay or an error.
func (e *Engine) prepare(ctx context.Context, o *op, accounts commandAccounts, mode claimMode) (Transfer, error) {
	c := &o.command
	if !ledger.ValidTransferID(c.ID) {
		return Transfer{}, fmt.Errorf("%w: client id must be 1-%d printable bytes", ErrInvalid, ledger.TransferIDBytesMax)
	}
	if err := ledger.ResolveKnown(c, accounts.from.Known(), accounts.to.Known()); err != nil {
		return Transfer{}, err
	}
	if err := e.inflight.claim(ctx, o, mode); err != nil {
		return Transfer{}, err
	}
	replay, err := e.route(o, accounts)
	if err != nil || o.decider == nil {
		e.complete(o) // answered here: releases the claim, waking any call waiting for this client id
		return replay, err
	}
	return Transfer{}, nil
}

// route checks a claimed op against the latest durable event of its client
// id, and either names the account that will decide it (o.decider) or
// returns the final answer: a replay or an error.
func (e *Engine) route(o *op, accounts commandAccounts) (Transfer, error) {
	c := &o.command
	idHash := e.ids.hash(string(c.ID))
	if payer, open := e.sweeper.openHold(c); open {
		// A capture or void of an open hold: its latest durable event is
		// its placing (recallClose proceeds), so the index need not be
		// read to learn who decides it. The claim on the id, held since
		// prepare, keeps it so: the hold's closing leaves the sweeper
		// before its claim is released.
		o.command.From = payer
		return Transfer{}, e.routeTo(o, accounts, idHash)
	}
	last, found, err := e.lookupHashed(c.ID, idHash)
	switch {
	case err != nil:
		return Transfer{}, err
	case found:
		outcome, err := ledger.Recall(&last, c)
		if err != nil {
			return Transfer{}, err
		}
		if outcome == ledger.OutcomeReplay {
			o.event = last // for callers that answer with more than a Transfer (a session)
			t := transferOf(&last)
			t.Replayed = true
			return t, nil
		}
		c.From = last.From // an open hold: its payer decides
	case c.Type == ledger.CommandCapture || c.Type == ledger.CommandVoid:
		return Transfer{}, fmt.Errorf("%w: hold %q", ErrNotFound, c.ID)
	}
	return Transfer{}, e.routeTo(o, accounts, idHash)
}

// routeTo names the account that decides o (o.decider): its command's
// decider, found among accounts or in the registry.
func (e *Engine) routeTo(o *op, accounts commandAccounts, idHash uint64) error {
	c := &o.command
	decider := accounts.entry(c.Decider())
	if decider == nil {
		decider = e.registry.Entry(c.Decider()) // a hold's payer, learned from its record
	}
	if decider == nil {
		return fmt.Errorf("%w: account %q", ErrNotFound, c.Decider())
	}
	e.ids.addHash(idHash) // before the op can be durable: the filter never says "no" to a used id
	o.decider = decider
	return nil
}

// commandAccounts holds the registry entries of the accounts a command
// names, looked up once: ResolveKnown reads them, and the payer's is where
// the command is sent.
type commandAccounts struct {
	from, to *actors.Entry
}

// accountsOf looks up the accounts c names; entries of known that are
// already the right accounts (a batch's previous item) are reused.
func (e *Engine) accountsOf(c *ledger.Command, known commandAccounts) commandAccounts {
	var accounts commandAccounts
	switch {
	case c.From == "":
	case known.from != nil && known.from.ID() == c.From:
		accounts.from = known.from
	default:
		accounts.from = e.registry.Entry(c.From)
	}
	switch {
	case c.To == "":
	case known.to != nil && known.to.ID() == c.To:
		accounts.to = known.to
	default:
		accounts.to = e.registry.Entry(c.To)
	}
	return accounts
}

func (a commandAccounts) entry(id ledger.AccountID) *actors.Entry {
	switch {
	case a.from != nil && a.from.ID() == id:
		return a.from
	case a.to != nil && a.to.ID() == id:
		return a.to
	}
	return nil
}

// lookup returns the latest durable event of a client id. An id the filter
// has never seen is certainly new, so only a "maybe" reads the index.
func (e *Engine) lookup(id TransferID) (ledger.Event, bool, error) {
	return e.lookupHashed(id, e.ids.hash(string(id)))
}

// lookupHashed is lookup with the id's filter hash already computed.
func (e *Engine) lookupHashed(id TransferID, idHash uint64) (ledger.Event, bool, error) {
	if !e.ids.mayContain(idHash) {
		return ledger.Event{}, false, nil
	}
	record, err := e.log.Get([]byte(id))
	if errors.Is(err, wal.ErrNotFound) {
		return ledger.Event{}, false, nil
	}
	if err != nil {
		e.fail(fmt.Errorf("read transfer index: %w", err))
		return ledger.Event{}, false, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	event, err := ledger.DecodeEvent(record)
	if err != nil {
		return ledger.Event{}, false, fmt.Errorf("%w: transfer %q: %v", ErrUnavailable, id, err)
	}
	return event, true, nil
}

// ChargeBatch applies many charges, each on its own (one failing does not
// stop the others), sharing commits and actor messages: the fast path for
// callers that meter many calls at once. Results are in input order.
func (e *Engine) ChargeBatch(ctx context.Context, charges []Charge) []Result {
	results := make([]Result, len(charges))
	weight, err := e.enterWith(ctx, len(charges))
	if err != nil {
		for i := range results {
			results[i].Err = err
		}
		return results
	}
	defer e.leaveWith(weight)
	ops := newOps(len(charges)) // one allocation: they live and die together
	batches := make(map[*actors.Entry]*actors.Batch)
	var later []int // client ids claimed by another item of this batch
	var accounts commandAccounts
	for i := range charges {
		o := &ops[i]
		o.command = e.chargeCommand(&charges[i])
		accounts = e.accountsOf(&o.command, accounts)
		replay, err := e.prepare(ctx, o, accounts, claimOrRefuse)
		switch {
		case errors.Is(err, errClaimedHere):
			later = append(later, i)
		case err != nil || o.decider == nil:
			results[i] = Result{Transfer: replay, Err: err}
		default:
			b := batches[o.decider]
			if b == nil {
				b = &actors.Batch{}
				batches[o.decider] = b
			}
			b.Ops = append(b.Ops, o)
		}
	}
	for decider, b := range batches {
		e.registry.Send(decider, b)
	}
	for i := range ops {
		if ops[i].decider == nil {
			continue // answered above, or left for later: never sent
		}
		if err := wait(ctx, &ops[i]); err != nil {
			results[i].Err = err
			continue
		}
		results[i].Transfer, results[i].Err = ops[i].result()
	}
	for _, i := range later { // within the batch's admission
		t, err := e.run(ctx, e.chargeCommand(&charges[i]))
		results[i] = Result{Transfer: t, Err: err}
	}
	return results
}

// Balance returns an account's balance, reflecting every acknowledged
// operation and nothing that is not yet durable.
func (e *Engine) Balance(ctx context.Context, account AccountID) (Balance, error) {
	weight, err := e.enterWith(ctx, 1)
	if err != nil {
		return Balance{}, err
	}
	defer e.leaveWith(weight)
	entry := e.registry.Entry(account)
	if entry == nil {
		return Balance{}, fmt.Errorf("%w: account %q", ErrNotFound, account)
	}
	read := newRead(entry, "")
	e.registry.Send(entry, read)
	if err := wait(ctx, read); err != nil {
		return Balance{}, err
	}
	if read.err != nil {
		return Balance{}, read.err // its barrier failed with the log
	}
	return read.balance, nil
}

// Spent returns what spender has debited from account under its budgets,
// open holds included, as of every acknowledged operation.
func (e *Engine) Spent(ctx context.Context, account AccountID, spender SpenderID) (Spend, error) {
	weight, err := e.enterWith(ctx, 1)
	if err != nil {
		return Spend{}, err
	}
	defer e.leaveWith(weight)
	entry := e.registry.Entry(account)
	if entry == nil {
		return Spend{}, fmt.Errorf("%w: account %q", ErrNotFound, account)
	}
	read := newRead(entry, spender)
	e.registry.Send(entry, read)
	if err := wait(ctx, read); err != nil {
		return Spend{}, err
	}
	if read.err != nil {
		return Spend{}, read.err
	}
	return read.spend, nil
}

// Transfer returns the transfer with this client id, as of the latest
// durable event (a hold's state included).
func (e *Engine) Transfer(ctx context.Context, id TransferID) (Transfer, error) {
	if err := e.enter(); err != nil {
		return Transfer{}, err
	}
	defer e.leave()
	last, found, err := e.lookup(id)
	if err != nil {
		return Transfer{}, err
	}
	if !found || last.Type == ledger.EventAccountCreated || last.Type.IsSession() {
		return Transfer{}, fmt.Errorf("%w: transfer %q", ErrNotFound, id)
	}
	return transferOf(&last), nil
}

// AccountInfo describes an account.
type AccountInfo struct {
	ID     AccountID
	Ledger LedgerID
	Kind   Kind
}

// Account returns an account's ledger and kind; ErrNotFound if unknown.
func (e *Engine) Account(id AccountID) (AccountInfo, error) {
	ledgerID, kind, ok := e.registry.Lookup(id)
	if !ok {
		return AccountInfo{}, fmt.Errorf("%w: account %q", ErrNotFound, id)
	}
	return AccountInfo{ID: id, Ledger: ledgerID, Kind: kind}, nil
}

// FeesAccount returns the id of a ledger's fee account.
func FeesAccount(ledgerID LedgerID) AccountID { return ledger.FeesAccountID(ledgerID) }

// ChainAccount returns the id of a ledger's chain boundary account.
func ChainAccount(ledgerID LedgerID) AccountID { return ledger.ChainAccountID(ledgerID) }
