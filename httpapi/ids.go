package httpapi

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"math/big"
	"strconv"
	"sync/atomic"
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

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomBase62 returns n characters from crypto/rand, each uniform over the
// 62 (rejection sampling: bytes at or above 248 are drawn again).
func randomBase62(n int) string {
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		rand.Read(buf[:]) // never fails (crypto/rand.Read documents it)
		for _, b := range buf {
			if b < 248 && len(out) < n {
				out = append(out, base62[b%62])
			}
		}
	}
	return string(out)
}

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
