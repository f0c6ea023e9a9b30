package x402

import "github.com/tollway/tollway/chain/contracts"

func tokenBinding() *contracts.TestUSDC { return contracts.NewTestUSDC() }
