package httpapi

import (
	"encoding/json"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/approvals"
)

// The hot routes (charges and batches) write their JSON by appending, with
// no reflection and no intermediate values; the rest use encoding/json. A
// test checks that both write the same document.

// bodies recycles the buffers responses are appended into; writeBody copies.
var bodies = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// writeAppended writes the body that appendTo appends, with status.
func writeAppended(ctx *fasthttp.RequestCtx, status int, appendTo func([]byte) []byte) {
	buf := bodies.Get().(*[]byte)
	*buf = appendTo((*buf)[:0])
	writeBody(ctx, status, *buf)
	if cap(*buf) <= 1<<20 {
		bodies.Put(buf)
	}
}

// appendCharge appends the JSON of a charge, as chargeJSON describes it:
// withBalance for a charge's answer (balance, position and replayed), not
// for a lookup, which carries the settlementId instead ("" is null).
func appendCharge(buf []byte, t *engine.Transfer, withBalance bool, settlementID string) []byte {
	buf = append(buf, `{"id":`...)
	buf = appendString(buf, string(t.ID))
	buf = append(buf, `,"from":`...)
	buf = appendString(buf, string(t.From))
	buf = append(buf, `,"to":`...)
	buf = appendString(buf, string(t.To))
	buf = appendAmountField(buf, `,"amount":`, t.Amount)
	buf = appendAmountField(buf, `,"fee":`, t.Fee)
	buf = appendAmountField(buf, `,"toAmount":`, t.ToAmount)
	buf = append(buf, `,"createdAt":"`...)
	buf = t.Time.UTC().AppendFormat(buf, time.RFC3339)
	buf = append(buf, '"')
	if t.Memo != "" {
		buf = append(buf, `,"metadata":`...)
		buf = append(buf, t.Memo...) // canonical JSON made by readMetadata
	}
	buf = appendApprovalOf(buf, t.ID)
	if withBalance {
		// A charge's answer: the same shape first and on every replay.
		buf = appendWriteResult(buf, t)
	} else {
		buf = append(buf, `,"settlementId":`...)
		buf = appendNullable(buf, settlementID)
	}
	return append(buf, '}')
}

// appendBatchResults appends {"results":[…]}: each item a charge or
// {"error":{…}} carrying the batch request's id, as every error does.
func appendBatchResults(buf []byte, results []engine.Result, errs []*apiError, requestID []byte) []byte {
	buf = append(buf, `{"results":[`...)
	for i := range results {
		if i > 0 {
			buf = append(buf, ',')
		}
		if e := errs[i]; e != nil {
			buf = append(buf, `{"error":{"type":`...)
			buf = appendString(buf, e.kind)
			buf = append(buf, `,"code":`...)
			buf = appendString(buf, e.code)
			buf = append(buf, `,"message":`...)
			buf = appendString(buf, e.message)
			buf = append(buf, `,"request_id":"`...)
			buf = append(buf, requestID...) // req_ and base62: nothing to escape
			buf = append(buf, `"}}`...)
			continue
		}
		buf = appendCharge(buf, &results[i].Transfer, true, "")
	}
	return append(buf, "]}"...)
}

// appendWriteResult appends what a write's answer adds to the transfer it
// made: the balance after it, its log position, and whether it replays.
func appendWriteResult(buf []byte, t *engine.Transfer) []byte {
	b := &t.Balance
	buf = appendAmountField(buf, `,"balance":{"available":`, b.Available)
	buf = appendAmountField(buf, `,"reserved":`, b.Reserved)
	buf = appendAmountField(buf, `,"posted":`, b.Posted)
	buf = appendAmountField(buf, `,"pending":`, b.Pending)
	buf = append(buf, `},"position":`...)
	buf = appendUint(buf, t.Position)
	if t.Replayed {
		return append(buf, `,"replayed":true`...)
	}
	return append(buf, `,"replayed":false`...)
}

func appendAmountField(buf []byte, prefix string, a engine.Amount) []byte {
	buf = append(buf, prefix...)
	buf = append(buf, '"')
	buf = a.AppendTo(buf)
	return append(buf, '"')
}

func appendUint(buf []byte, v uint64) []byte {
	return engine.NewAmount(v).AppendTo(buf)
}

// appendString appends s as a JSON string. Identifiers and codes are plain
// ASCII and are copied as they are; anything else is escaped as
// encoding/json escapes it.
func appendString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= utf8.RuneSelf {
			quoted, _ := json.Marshal(s) // cannot fail on a string
			return append(buf, quoted...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// holdStates are a hold's states as API.md names them.
var holdStates = map[engine.HoldState]string{
	engine.HoldOpen: "PENDING", engine.HoldCaptured: "CAPTURED", engine.HoldVoided: "VOIDED", engine.HoldExpired: "EXPIRED",
}

// appendHold appends the JSON of a hold, as holdJSON (holds_test.go)
// describes it: withBalance for the answer to a POST (the calling key's
// account's balance, position and replayed), not for a lookup. fee and
// toAmount are "0" until the hold is captured; closedAt is null while it is
// PENDING, then the time of its capture, void or expiry. settlementID is
// the batch that settles a capture ("" is null).
func appendHold(buf []byte, t *engine.Transfer, withBalance bool, settlementID string) []byte {
	buf = append(buf, `{"id":`...)
	buf = appendString(buf, string(t.ID))
	buf = append(buf, `,"from":`...)
	buf = appendString(buf, string(t.From))
	buf = append(buf, `,"to":`...)
	buf = appendString(buf, string(t.To))
	buf = appendAmountField(buf, `,"amount":`, t.Amount)
	buf = appendAmountField(buf, `,"captured":`, t.Captured)
	buf = appendAmountField(buf, `,"fee":`, t.Fee)
	buf = appendAmountField(buf, `,"toAmount":`, t.ToAmount)
	buf = append(buf, `,"state":`...)
	buf = appendString(buf, holdStates[t.State])
	buf = appendTimeField(buf, `,"createdAt":`, t.Created)
	buf = appendTimeField(buf, `,"expiresAt":`, t.Deadline)
	if t.State == engine.HoldOpen {
		buf = append(buf, `,"closedAt":null`...)
	} else {
		buf = appendTimeField(buf, `,"closedAt":`, t.Time)
	}
	buf = append(buf, `,"settlementId":`...)
	buf = appendNullable(buf, settlementID)
	if t.Memo != "" {
		buf = append(buf, `,"metadata":`...)
		buf = append(buf, t.Memo...) // canonical JSON made by readMetadata
	}
	buf = appendApprovalOf(buf, t.ID)
	if withBalance {
		buf = appendWriteResult(buf, t)
	}
	return append(buf, '}')
}

// appendApprovalOf appends the approval that made a charge or hold, if
// one did: its id is the approval's, and only an EXECUTED approval's
// transfer is shown as a charge or a hold.
func appendApprovalOf(buf []byte, id engine.TransferID) []byte {
	if !strings.HasPrefix(string(id), approvals.IDPrefix) {
		return buf
	}
	buf = append(buf, `,"approval":{"id":`...)
	buf = appendString(buf, string(id))
	return append(buf, `,"state":"EXECUTED"}`...)
}

func appendTimeField(buf []byte, prefix string, t time.Time) []byte {
	buf = append(buf, prefix...)
	buf = append(buf, '"')
	buf = t.UTC().AppendFormat(buf, time.RFC3339)
	return append(buf, '"')
}
