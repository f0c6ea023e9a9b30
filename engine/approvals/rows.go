package approvals

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tollway/tollway/engine"
)

// Table keys (the engine's table, written through its log).
const (
	// RowPrefix + id: an approval's record, JSON. Subscribe to it
	// (engine.SubscribeOptions.RowPrefixes) and Decode its rows to learn of
	// approvals as they are written; no other row of this package is under
	// it.
	RowPrefix = "approvals/r/"
	// markerPrefix + id: an approval that still has work to do after a
	// restart: its reservation being placed (the value is the intended
	// record, state empty), PENDING or APPROVED (empty value; the record
	// says), or terminal with its reservation maybe not yet released.
	markerPrefix = "approvals/m/"
	// indexPrefix + scope + NUL + state (or "*") + NUL + ^createdAt + id:
	// the approvals of an owner (scope "o:" + owner) or of a payer account
	// ("a:" + account), newest first, in all and by state.
	indexPrefix = "approvals/x/"
	indexAll    = "*"
)

// Events a record announces (see EventOf).
const (
	EventRequested = "approval.requested"
	EventDecided   = "approval.decided"
)

var errCorrupt = errors.New("approvals: corrupt row")

func recordKey(id engine.TransferID) []byte { return []byte(RowPrefix + string(id)) }
func markerKey(id engine.TransferID) []byte { return []byte(markerPrefix + string(id)) }

func ownerScope(owner string) string               { return "o:" + owner }
func accountScope(account engine.AccountID) string { return "a:" + string(account) }

func indexScopePrefix(scope, state string) []byte {
	return []byte(indexPrefix + scope + "\x00" + state + "\x00")
}

// indexKey sorts newest first: the creation time inverted, then the id.
func indexKey(scope, state string, created time.Time, id engine.TransferID) []byte {
	key := binary.BigEndian.AppendUint64(indexScopePrefix(scope, state), ^uint64(created.UnixNano()))
	return append(key, id...)
}

// Decode returns the approval a table row records, ok false for a row that
// is not a record (another prefix, or a delete). It depends on key and value
// alone, so a webhook mapping may call it for the same row again.
func Decode(key, value []byte) (a Approval, ok bool, err error) {
	if !bytes.HasPrefix(key, []byte(RowPrefix)) || value == nil {
		return Approval{}, false, nil
	}
	if err := json.Unmarshal(value, &a); err != nil {
		return Approval{}, false, fmt.Errorf("%w: %q: %v", errCorrupt, key, err)
	}
	if string(a.ID) != string(key[len(RowPrefix):]) || !a.State.Valid() {
		return Approval{}, false, fmt.Errorf("%w: %q holds approval %q in state %q", errCorrupt, key, a.ID, a.State)
	}
	return a, true, nil
}

// EventOf returns the webhook event a record announces: approval.requested
// for the PENDING record without decisions (written once, when the spend is
// held back), approval.decided for a terminal one (written once: EXECUTED,
// REJECTED, EXPIRED or FAILED); none for the others (a PENDING one with a
// first of two decisions, APPROVED on its way to EXECUTED). An event's
// account is the payer (From); "id.requested" and "id.decided" name the
// facts uniquely.
func EventOf(a Approval) (string, bool) {
	switch {
	case a.State == StatePending && len(a.Decisions) == 0:
		return EventRequested, true
	case a.State.Terminal():
		return EventDecided, true
	}
	return "", false
}

// Valid reports whether s is one of the states.
func (s State) Valid() bool { return s == StatePending || s == StateApproved || s.Terminal() }

func encodeApproval(a *Approval) []byte {
	value, err := json.Marshal(a)
	if err != nil {
		panic(fmt.Sprintf("approvals: encode %s: %v", a.ID, err)) // strings, amounts and times: cannot fail
	}
	return value
}

// recordRows returns the rows that take an approval from prev (nil: none
// recorded yet) to a: its record, its index entries, and its marker, kept
// while work remains after a (keep) and deleted otherwise.
func recordRows(prev, a *Approval, keep bool) []engine.Row {
	rows := []engine.Row{{Key: recordKey(a.ID), Value: encodeApproval(a)}}
	scopes := [2]string{ownerScope(a.Owner), accountScope(a.From)}
	for _, scope := range scopes {
		if prev == nil {
			rows = append(rows, engine.Row{Key: indexKey(scope, indexAll, a.CreatedAt, a.ID), Value: []byte{}})
		}
		if prev == nil || prev.State != a.State {
			if prev != nil {
				rows = append(rows, engine.Row{Key: indexKey(scope, string(prev.State), prev.CreatedAt, a.ID)})
			}
			rows = append(rows, engine.Row{Key: indexKey(scope, string(a.State), a.CreatedAt, a.ID), Value: []byte{}})
		}
	}
	if keep {
		rows = append(rows, engine.Row{Key: markerKey(a.ID), Value: []byte{}})
	} else {
		rows = append(rows, engine.Row{Key: markerKey(a.ID)})
	}
	return rows
}

// errFound ends a scan once it found what it looked for.
var errFound = errors.New("found")

// readRow returns the value of one key of the table, a copy.
func readRow(eng *engine.Engine, key []byte) (value []byte, found bool, err error) {
	err = eng.ScanRows(key, func(k, v []byte) error {
		if bytes.Equal(k, key) {
			value, found = bytes.Clone(v), true
			if value == nil {
				value = []byte{}
			}
		}
		return errFound // the exact key sorts first under its own prefix
	})
	if err != nil && !errors.Is(err, errFound) {
		return nil, false, fmt.Errorf("%w: read %q: %w", ErrUnavailable, key, err)
	}
	return value, found, nil
}

// load returns an approval's durable record.
func load(eng *engine.Engine, id engine.TransferID) (Approval, bool, error) {
	key := recordKey(id)
	value, found, err := readRow(eng, key)
	if err != nil || !found {
		return Approval{}, false, err
	}
	a, _, err := Decode(key, value)
	if err != nil {
		return Approval{}, false, err
	}
	return a, true, nil
}
