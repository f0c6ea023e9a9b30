package httpapi

import (
	"crypto/sha256"
	"encoding/binary"
	"math/bits"
	"strconv"
	"sync/atomic"

	"github.com/tollway/tollway/engine/access"
)

// ID prefixes of API.md.
const (
	prefixUser    = "usr_"
	prefixAccount = "acct_"
	prefixKey     = "key_"
	prefixCharge  = "ch_"
	prefixHold    = "hold_"
	prefixSession = "sess_"
	prefixCredit  = "cr_"
	prefixRequest = "req_"
	prefixFamily  = "rt_"
)

// idChars is the length of the random or derived part of an id: 22 base62
// characters carry 130 bits.
const idChars = 22

// base62 and randomBase62 are the key format's alphabet and generator.
const base62 = access.Base62

var randomBase62 = access.RandomBase62

// newID returns prefix and idChars random characters in one allocation (a
// charge without an Idempotency-Key takes a new id).
func newID(prefix string) string {
	var buf [64]byte
	return string(access.AppendRandomBase62(append(buf[:0], prefix...), idChars))
}

// derivedID returns prefix and idChars characters derived from parts by
// SHA-256: the durable id of an operation named by an Idempotency-Key, so a
// retry, even after a restart, names the same operation. parts are joined
// unambiguously (each is length-prefixed).
func derivedID(prefix string, parts ...string) string {
	h := sha256.New()
	var length [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(length[:], uint64(len(p)))
		h.Write(length[:])
		h.Write([]byte(p))
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	// The first 17 bytes as a 136-bit number in three limbs, most
	// significant first, written in base 62 from its least significant
	// digit: the first idChars digits.
	limbs := [3]uint64{uint64(sum[0]), binary.BigEndian.Uint64(sum[1:9]), binary.BigEndian.Uint64(sum[9:17])}
	out := make([]byte, len(prefix)+idChars)
	copy(out, prefix)
	for i := range idChars {
		var remainder uint64
		for j := range limbs {
			limbs[j], remainder = bits.Div64(remainder, limbs[j], 62)
		}
		out[len(prefix)+i] = base62[remainder]
	}
	return string(out)
}

// requestIDs makes request ids: a random stem per process and a counter,
// unique without a system call per request.
type requestIDs struct {
	stem    string
	counter atomic.Uint64
}

func newRequestIDs() *requestIDs { return &requestIDs{stem: prefixRequest + randomBase62(10)} }

func (r *requestIDs) next(buf []byte) []byte {
	buf = append(buf, r.stem...)
	return strconv.AppendUint(buf, r.counter.Add(1), 36)
}
