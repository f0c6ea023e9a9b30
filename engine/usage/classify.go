package usage

import "github.com/tollway/tollway/engine"

// usageOf says what an event counts for in usage: the payer spends amount
// (fee included), the payee earns amount − fee, and fee is the platform's
// part of the payer's spending. ok is false for events that are not usage
// (accounts, credits, holds placed, voided or expired, sessions opened,
// moved, cancelled or expired, payouts, withdrawals requested or paid:
// money leaving on chain is no call paid for).
//
// It is the one place that classifies events; a new kind of settlement
// adds its case here.
//
// NB: a capture or a session's end counts its posted part, zero included
// (a captured hold or an ended session is one usage, of what it posted);
// the released rest is not usage.
func usageOf(ev engine.Event) (payer, payee engine.AccountID, amount, fee engine.Amount, ok bool) {
	switch ev.Type {
	case engine.EventCharged:
		return ev.From, ev.To, ev.Amount, ev.Fee, true
	case engine.EventCaptured, engine.EventSessionEnded:
		return ev.From, ev.To, ev.Captured, ev.Fee, true
	}
	return "", "", engine.Amount{}, engine.Amount{}, false
}
