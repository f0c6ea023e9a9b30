package access

import "crypto/rand"

// Base62 is the alphabet of key secrets and ids.
const Base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// RandomBase62 returns n characters from crypto/rand, each uniform over the
// 62 (rejection sampling: bytes at or above 248 are drawn again).
func RandomBase62(n int) string {
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		rand.Read(buf[:]) // never fails (crypto/rand.Read documents it)
		for _, b := range buf {
			if b < 248 && len(out) < n {
				out = append(out, Base62[b%62])
			}
		}
	}
	return string(out)
}
