package x402

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"

	"github.com/tollway/tollway/chain/contracts"
)

// Limits of the batched chain reads.
const (
	// StateReadsPerCall bounds the queries of one eth_call: its output,
	// 96 bytes a query, is returned as would-be contract code, which a
	// node caps at 24,576 bytes (EIP-170).
	StateReadsPerCall = 128
	// stateReadTimeout bounds one eth_call of queries: it serves many
	// verifications, so no one caller's context may cut it short.
	stateReadTimeout = 10 * time.Second
)

// Flags of a query's answer, as X402StateReader sets them.
const (
	stateHasCode     = 1
	stateNonceRead   = 2
	stateNonceUsed   = 4
	stateBalanceRead = 8
	stateDomainRead  = 16
)

// stateReaderCode is X402StateReader's creation code: the eth_call runs
// it with the queries appended as its constructor's argument.
var stateReaderCode = common.FromHex(contracts.X402StateReaderMetaData.Bin)

// chainState is what the chain says of one authorization at one block.
type chainState struct {
	hasCode                           bool
	nonceRead, nonceUsed, balanceRead bool
	domainRead                        bool
	balance                           *big.Int
	domain                            common.Hash
}

// stateQuery is one verification's read, answered when done is closed.
type stateQuery struct {
	token, from common.Address
	nonce       common.Hash
	done        chan struct{}
	state       chainState
	err         error // the eth_call failed: nothing was read
}

// wait returns the query's answer once it has one, or ctx's error.
func (q *stateQuery) wait(ctx context.Context) (chainState, error) {
	select {
	case <-q.done:
		return q.state, q.err
	case <-ctx.Done():
		return chainState{}, ctx.Err()
	}
}

// stateReader batches the chain reads of concurrent verifications on one
// network, the way a log's group commit batches writes: while one eth_call
// is in flight, the queries that arrive wait, and the next call carries
// them all (up to StateReadsPerCall). A lone verification pays one call, as
// before; under load, a call serves many. Every answer of a call is at the
// same block, the latest when the node ran it.
type stateReader struct {
	chain ChainReader

	mu     sync.Mutex
	queue  []*stateQuery
	flying bool // a goroutine is draining queue
}

// read starts reading an authorization's state; the answer comes with the
// query's wait.
func (r *stateReader) read(token, from common.Address, nonce common.Hash) *stateQuery {
	q := &stateQuery{token: token, from: from, nonce: nonce, done: make(chan struct{})}
	r.mu.Lock()
	r.queue = append(r.queue, q)
	start := !r.flying
	r.flying = true
	r.mu.Unlock()
	if start {
		go r.drain()
	}
	return q
}

// drain calls the node for the queued queries until none is left.
func (r *stateReader) drain() {
	for {
		r.mu.Lock()
		n := min(len(r.queue), StateReadsPerCall)
		if n == 0 {
			r.flying = false
			r.mu.Unlock()
			return
		}
		batch := r.queue[:n:n]
		r.queue = r.queue[n:]
		if len(r.queue) == 0 {
			r.queue = nil // let the drained array go
		}
		r.mu.Unlock()
		r.call(batch)
	}
}

// call answers batch with one eth_call of X402StateReader's constructor.
func (r *stateReader) call(batch []*stateQuery) {
	ctx, cancel := context.WithTimeout(context.Background(), stateReadTimeout)
	defer cancel()
	output, err := r.chain.CallContract(ctx, ethereum.CallMsg{Data: packStateQueries(batch)}, nil)
	if err == nil {
		err = unpackStates(output, batch)
	}
	for _, q := range batch {
		if err != nil {
			q.err = fmt.Errorf("read of %d authorizations' state: %w", len(batch), err)
		}
		close(q.done)
	}
}

// packStateQueries is the call's data: the creation code, then the ABI
// encoding of the constructor's Query[] (an offset, a length, and three
// words per static struct). Hand-packed: it runs for every call.
func packStateQueries(batch []*stateQuery) []byte {
	data := make([]byte, 0, len(stateReaderCode)+64+96*len(batch))
	data = append(data, stateReaderCode...)
	data = appendWord(data, 32)
	data = appendWord(data, uint64(len(batch)))
	var pad [12]byte // an address's left padding to a word
	for _, q := range batch {
		data = append(data, pad[:]...)
		data = append(data, q.token[:]...)
		data = append(data, pad[:]...)
		data = append(data, q.from[:]...)
		data = append(data, q.nonce[:]...)
	}
	return data
}

// appendWord appends v as a 32-byte big-endian word.
func appendWord(data []byte, v uint64) []byte {
	var word [32]byte
	binary.BigEndian.PutUint64(word[24:], v)
	return append(data, word[:]...)
}

// errStateOutput is an output that is not the states of the queries asked.
var errStateOutput = errors.New("X402StateReader answered an unexpected output")

// unpackStates decodes the ABI encoding of State[] into the queries.
func unpackStates(output []byte, batch []*stateQuery) error {
	if len(output) != 64+96*len(batch) || new(big.Int).SetBytes(output[:32]).Uint64() != 32 ||
		new(big.Int).SetBytes(output[32:64]).Cmp(big.NewInt(int64(len(batch)))) != 0 {
		return fmt.Errorf("%w: %d bytes for %d queries", errStateOutput, len(output), len(batch))
	}
	for i, q := range batch {
		word := output[64+96*i:]
		flags := new(big.Int).SetBytes(word[:32])
		if !flags.IsUint64() {
			return fmt.Errorf("%w: flags %s", errStateOutput, flags)
		}
		f := flags.Uint64()
		q.state = chainState{
			hasCode:     f&stateHasCode != 0,
			nonceRead:   f&stateNonceRead != 0,
			nonceUsed:   f&stateNonceUsed != 0,
			balanceRead: f&stateBalanceRead != 0,
			domainRead:  f&stateDomainRead != 0,
			balance:     new(big.Int).SetBytes(word[32:64]),
			domain:      common.BytesToHash(word[64:96]),
		}
	}
	return nil
}
