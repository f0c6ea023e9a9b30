package access

import "crypto/rand"

// Base62 is the alphabet of key secrets and ids.
const Base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// RandomBase62 returns n characters from crypto/rand, each uniform over the
// 62 (see AppendRandomBase62).
func RandomBase62(n int) string { return string(AppendRandomBase62(make([]byte, 0, n), n)) }

// AppendRandomBase62 appends n characters from crypto/rand to out, each
// uniform over the 62: rejection sampling, bytes at or above 248 (4 x 62)
// are drawn again. With room in out it allocates nothing, so a caller can
// build a prefixed id in one allocation.
func AppendRandomBase62(out []byte, n int) []byte {
	var random [32]byte
	for n > 0 {
		rand.Read(random[:]) // never fails (crypto/rand.Read documents it)
		for _, b := range random {
			if b < 248 && n > 0 {
				out = append(out, Base62[b%62])
				n--
			}
		}
	}
	return out
}
