package webhooks

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tollway/tollway/engine"
)

// Table keys. An endpoint's outbox and delivery log rows share its id and
// sort by a sequence number, so the head of an outbox, or a page of a log,
// is one short scan.
const (
	// RetentionName names the deliverer's engine retention.
	RetentionName  = "webhooks"
	cursorKey      = "webhooks/c"
	endpointPrefix = "webhooks/e/"
	outboxPrefix   = "webhooks/q/"
	logPrefix      = "webhooks/l/"
)

var errCorrupt = errors.New("webhooks: corrupt row")

func endpointKey(id string) []byte { return []byte(endpointPrefix + id) }

// sequencePrefix is an endpoint's outbox or log prefix; sequenceKey adds
// a big-endian sequence number, so keys sort by it.
func sequencePrefix(prefix, endpoint string) []byte { return []byte(prefix + endpoint + "/") }

func sequenceKey(prefix, endpoint string, sequence uint64) []byte {
	return binary.BigEndian.AppendUint64(sequencePrefix(prefix, endpoint), sequence)
}

// splitSequenceKey returns the endpoint and sequence of an outbox or log key.
func splitSequenceKey(prefix string, key []byte) (string, uint64, error) {
	rest := key[len(prefix):]
	if len(rest) < 10 || rest[len(rest)-9] != '/' {
		return "", 0, fmt.Errorf("%w: key %q", errCorrupt, key)
	}
	return string(rest[:len(rest)-9]), binary.BigEndian.Uint64(rest[len(rest)-8:]), nil
}

func cursorRow(position uint64) engine.Row {
	return engine.Row{Key: []byte(cursorKey), Value: binary.BigEndian.AppendUint64(nil, position)}
}

// pending is an outbox row: the event's body as it is signed and sent
// every time, and the attempts so far, so that a restart keeps counting
// the retry window from the first attempt.
type pending struct {
	attempts uint32
	first    time.Time // of the first attempt; zero before it
	account  engine.AccountID
	body     []byte
}

// Encoded as: first attempt's Unix nanoseconds (8 bytes, 0 for none),
// attempts (4), the account's length (1) and bytes, the body.
func (p *pending) encode() []byte {
	buf := make([]byte, 0, 13+len(p.account)+len(p.body))
	var first int64
	if !p.first.IsZero() {
		first = p.first.UnixNano()
	}
	buf = binary.BigEndian.AppendUint64(buf, uint64(first))
	buf = binary.BigEndian.AppendUint32(buf, p.attempts)
	buf = append(buf, byte(len(p.account)))
	buf = append(buf, p.account...)
	return append(buf, p.body...)
}

func decodePending(value []byte) (pending, error) {
	if len(value) < 13 || len(value) < 13+int(value[12]) {
		return pending{}, fmt.Errorf("%w: outbox row of %d bytes", errCorrupt, len(value))
	}
	p := pending{attempts: binary.BigEndian.Uint32(value[8:12])}
	if first := int64(binary.BigEndian.Uint64(value)); first != 0 {
		p.first = time.Unix(0, first).UTC()
	}
	n := int(value[12])
	p.account = engine.AccountID(value[13 : 13+n])
	p.body = append([]byte(nil), value[13+n:]...)
	return p, nil
}

// Outcomes of a delivery log entry.
const (
	OutcomeDelivered = "delivered" // the receiver answered 2xx
	OutcomeRetrying  = "retrying"  // it did not; another attempt follows
	OutcomeFailed    = "failed"    // it did not, RetryWindow after the first attempt: given up
	OutcomeDropped   = "dropped"   // never attempted: the endpoint's outbox was full
)

// Delivery is one entry of an endpoint's delivery log: an attempt, or an
// event dropped.
type Delivery struct {
	Sequence   uint64    `json:"-"`
	EventID    string    `json:"eventId"`
	Type       string    `json:"type"`
	Attempt    uint32    `json:"attempt"`
	Outcome    string    `json:"outcome"`
	Status     int       `json:"status,omitempty"` // the receiver's HTTP status; 0 if none
	Error      string    `json:"error,omitempty"`
	At         time.Time `json:"at"`
	DurationMs int64     `json:"durationMs"`
}

// deliveryErrorBytesMax bounds the error text a log entry keeps.
const deliveryErrorBytesMax = 200

func (d *Delivery) encode() []byte {
	if len(d.Error) > deliveryErrorBytesMax {
		d.Error = d.Error[:deliveryErrorBytesMax]
	}
	value, err := json.Marshal(d)
	if err != nil {
		panic(fmt.Sprintf("webhooks: encode delivery: %v", err)) // strings, ints and a time: cannot fail
	}
	return value
}
