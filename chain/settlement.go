package chain

import (
	"crypto/ecdsa"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
)

// Settlement is the chain settlements go to, whichever node serves it: the
// embedded chain ((*Local).Settlement) or a real node ((*Remote).Settlement).
// The watcher, the relayer and /v1/config take this and nothing else, so
// they cannot tell the two apart.
type Settlement struct {
	Client *ethclient.Client
	// Reader serves the x402 facilitator's verification reads: Client, or
	// on the embedded chain the node in process (no HTTP per read; a head
	// a crash would undo is like a reorganization to it, which settlement
	// copes with anyway).
	Reader       *ethclient.Client
	ChainID      *big.Int
	Pool         common.Address
	USDC         common.Address
	FeeRecipient common.Address
	// Relayer holds the pool's relayer role and pays the gas of settleBatch.
	Relayer         *ecdsa.PrivateKey
	WithdrawalDelay time.Duration
	// Confirmations is how many blocks a deposit waits for on top of its own.
	Confirmations uint64
	// RPCURL is the node's JSON-RPC URL as clients reach it, published in
	// /v1/config; empty: not published.
	RPCURL string
	// X402Signer sends the x402 facilitator's settlements; nil: the
	// facilitator verifies but does not settle.
	X402Signer *ecdsa.PrivateKey
	// X402Batcher is the AuthorizationBatcher of the facilitator's batch
	// mode; zero: none (batch mode unavailable).
	X402Batcher common.Address
}

// RelayerAddress is the relayer key's address.
func (s Settlement) RelayerAddress() common.Address {
	return crypto.PubkeyToAddress(s.Relayer.PublicKey)
}
