package httpapi

import (
	"crypto/sha256"
	"encoding/binary"
	"math/big"
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

// newID returns prefix and idChars random characters.
func newID(prefix string) string { return prefix + randomBase62(idChars) }

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
	n := new(big.Int).SetBytes(h.Sum(nil)[:17])
	out := make([]byte, idChars)
	sixtyTwo := big.NewInt(62)
	digit := new(big.Int)
	for i := range out {
		n.DivMod(n, sixtyTwo, digit)
		out[i] = base62[digit.Int64()]
	}
	return prefix + string(out)
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
