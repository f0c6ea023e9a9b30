package x402

import (
	"context"
	"fmt"
	"math/big"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// gatedChain holds its first deployless call until gate is closed and
// records how many queries each call carried.
type gatedChain struct {
	ChainReader
	gate  chan struct{}
	held  chan struct{} // closed once the first call waits at gate
	mu    sync.Mutex
	sizes []int
}

func (c *gatedChain) CallContract(ctx context.Context, call ethereum.CallMsg, block *big.Int) ([]byte, error) {
	if call.To == nil {
		c.mu.Lock()
		first := len(c.sizes) == 0
		c.sizes = append(c.sizes, (len(call.Data)-len(stateReaderCode)-64)/96)
		c.mu.Unlock()
		if first {
			close(c.held)
			<-c.gate
		}
	}
	return c.ChainReader.CallContract(ctx, call, block)
}

// TestStateReaderBatches: queries that arrive while a call is in flight
// share the next calls, at most StateReadsPerCall each, and every query
// gets its own answer: alice's balance, carol's none, the used nonce used.
func TestStateReaderBatches(t *testing.T) {
	w := newWorld(t)
	used := w.authorize("used")
	authorization := w.verify(body(w.requirements(), used.payload())).Authorization
	if status := w.settle(authorization); status != 1 {
		t.Fatalf("settle: status %d", status)
	}
	chain := &gatedChain{ChainReader: w.client, gate: make(chan struct{}), held: make(chan struct{})}
	reader := &stateReader{chain: chain}
	first := reader.read(w.usdc, w.alice.address, used.nonce)
	<-chain.held
	const queued = 200
	queries := make([]*stateQuery, queued)
	for i := range queries {
		from := w.alice.address
		if i%2 == 1 {
			from = w.carol.address
		}
		queries[i] = reader.read(w.usdc, from, crypto.Keccak256Hash([]byte(fmt.Sprint(i))))
	}
	close(chain.gate)
	ctx := context.Background()
	state, err := first.wait(ctx)
	if err != nil || !state.nonceRead || !state.nonceUsed || state.hasCode {
		t.Fatalf("the used nonce: %+v, %v; want read and used, no code", state, err)
	}
	aliceBalance := new(big.Int).Sub(big.NewInt(1_000_000), authorization.Value)
	for i, q := range queries {
		state, err := q.wait(ctx)
		want := aliceBalance
		if i%2 == 1 {
			want = new(big.Int)
		}
		if err != nil || !state.nonceRead || state.nonceUsed || !state.balanceRead || state.balance.Cmp(want) != 0 ||
			!state.domainRead || state.domain != DomainSeparator("USD Coin", "2", simChainID, w.usdc) {
			t.Fatalf("query %d: %+v, %v; want unused nonce, balance %s, the token's domain", i, state, err, want)
		}
	}
	chain.mu.Lock()
	defer chain.mu.Unlock()
	if fmt.Sprint(chain.sizes) != fmt.Sprint([]int{1, StateReadsPerCall, queued - StateReadsPerCall}) {
		t.Fatalf("calls carried %v queries, want [1 %d %d]", chain.sizes, StateReadsPerCall, queued-StateReadsPerCall)
	}
}

// TestStateReaderCodeFlag: a contract wallet has code; the output of a
// call that is not the reader's is refused, not misread.
func TestStateReaderCodeFlag(t *testing.T) {
	w := newWorld(t)
	reader := &stateReader{chain: w.client}
	state, err := reader.read(w.usdc, walletAddress, common.Hash{}).wait(context.Background())
	if err != nil || !state.hasCode || state.balance.Cmp(big.NewInt(1_000_000)) != 0 {
		t.Fatalf("wallet: %+v, %v; want code and 1000000", state, err)
	}
	q := &stateQuery{}
	if err := unpackStates(make([]byte, 64+96), []*stateQuery{q}); err == nil {
		t.Fatal("unpackStates accepted an output with offset 0")
	}
}
