package webhooks

// OutboxPrefix and CursorKey let the tests of package webhooks_test read
// the deliverer's durable state (an endpoint's outbox, the dispatcher's
// cursor) back through engine.ScanRows, as a restart would.
func OutboxPrefix(endpoint string) []byte { return sequencePrefix(outboxPrefix, endpoint) }

const CursorKey = cursorKey

// LogPrefix is the prefix of an endpoint's delivery log rows.
func LogPrefix(endpoint string) []byte { return sequencePrefix(logPrefix, endpoint) }
