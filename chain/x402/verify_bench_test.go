package x402

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
)

// BenchmarkRecoverSigner is the signature check of a verification: the
// bound on verifications per core (go test -bench RecoverSigner).
func BenchmarkRecoverSigner(b *testing.B) {
	key, _ := crypto.GenerateKey()
	digest := crypto.Keccak256Hash([]byte("x"))
	signature, _ := crypto.Sign(digest[:], key)
	for b.Loop() {
		if _, err := RecoverSigner(digest, signature); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify is Verify from the parsed request on, by 32 callers per
// core on the simulated chain, whose reads the stateReader batches.
func BenchmarkVerify(b *testing.B) {
	w := newWorld(b)
	const distinct = 4096
	bodies := make([][]byte, distinct)
	for i := range bodies {
		bodies[i] = body(w.requirements(), w.authorize(fmt.Sprint("bench", i)).payload())
	}
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			request, err := ParseRequest(bodies[n.Add(1)%distinct])
			if err != nil {
				b.Fatal(err)
			}
			v, err := w.verifier.Verify(context.Background(), request)
			if err != nil || !v.Response.IsValid {
				b.Fatal(err, v.Response)
			}
		}
	})
}
