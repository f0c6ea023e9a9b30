// Package webhooks tells users what happened without polling: endpoints
// registered by an owner receive, signed, the committed events of their
// accounts.
//
// Invariants: every event is taken from the engine's subscription (never
// from a call that might not commit): a ledger event, or a table row
// another component wrote (Options.Rows: the relayer's settlements); an event mapped for an endpoint is
// written to that endpoint's outbox in the same WriteRows as the cursor and
// the retention past it, so a restart resumes after the cursor and neither
// loses nor enqueues an event twice; an outbox row is deleted only in the
// WriteRows that logs its acknowledgement or its giving up, so delivery is
// at least once, and in outbox order (which is log order) per endpoint.
//
// Goroutines: one dispatcher follows the subscription and fills the
// outboxes; one worker per endpoint posts its outbox's head, retrying with
// capped exponential backoff for RetryWindow. A slow or dead endpoint holds
// only its own worker, and its outbox is bounded (OutboxPerEndpointMax): the
// dispatcher never waits for a receiver, and the subscription reads the log
// back when the dispatcher lags, so charges never wait for either.
package webhooks
