// Package relay is the settlement relayer: an actor that follows the
// engine's committed events, nets charges, captured holds and ended
// sessions per (payer, payee) and settles each batch on chain with one
// SettlementPool.settleBatch.
//
// A batch's life, each step durable before the next:
//
//  1. PENDING: the cut. The batch's entries, the pairs' remaining nets
//     (carry rows) and the log position they account for are written in one
//     table write; then each payee's share leaves the ledger through its
//     chain account (a payout whose client id names the batch and entry, so
//     a restart that does it again replays it).
//  2. SUBMITTED: the transaction is signed with the relayer's own nonce and
//     recorded (nonce, hash, raw bytes) before it is sent, so a restart
//     sends the same bytes again rather than a second settlement.
//  3. CONFIRMED once its receipt is Confirmations blocks deep, after the
//     fees leave the ledger through the chain account; or FAILED if the
//     chain refused it: the payee payouts are undone (credits naming them)
//     and the entries go back into the nets, for a later batch.
//
// The pool refuses a batch id it has settled (BatchAlreadySettled); the
// relayer asks settled(batchId) whenever an outcome is in doubt, so nothing
// settles twice whatever the crash. Entries are capped so a batch cannot
// revert for want of funds: a payer's entries at its pool balance less what
// its batches in flight take, a payee's share at what it has not spent off
// chain. What exceeds a cap stays in the nets.
//
// Debits whose payer has no wallet (accounts funded by the admin credit
// endpoint, never by a deposit) are not settled on chain: no pool balance
// backs them. Payees without a wallet accumulate until they bind one.
package relay
