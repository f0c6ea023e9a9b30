package httpapi

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/valyala/fasthttp"
)

// FaucetLimits are what one faucet request gives unless it asks (the
// defaults) and at most: the chain's own (cmd passes them), so that a
// request above them is a 400 naming the field.
type FaucetLimits struct {
	WeiDefault, WeiMax, USDCDefault, USDCMax *big.Int
}

var errNoFaucet = conflict("invalid_state", "the faucet funds wallets on the embedded chain only, and this server uses none")

// faucet is POST /v1/admin/chain/faucet (admin token): it mints test USDC
// and sends gas money to an address on the embedded chain, so a new wallet
// can deposit.
func (s *Server) faucet(ctx *fasthttp.RequestCtx, c *call) *apiError {
	if apiErr := s.authenticateAdmin(ctx); apiErr != nil {
		return apiErr
	}
	r, apiErr := parseObject(ctx.PostBody())
	if apiErr != nil {
		return apiErr
	}
	address, okAddress := r.string("address", true, 42)
	if okAddress && (!common.IsHexAddress(address) || len(address) != 42) {
		r.fail("address", "must be a 0x-prefixed 20-byte hex address")
	}
	if s.config.Faucet == nil {
		r.release()
		return errNoFaucet
	}
	limits := s.config.FaucetLimits
	wei := readFaucetAmount(r, "eth", limits.WeiDefault, limits.WeiMax, "wei")
	usdc := readFaucetAmount(r, "usdc", limits.USDCDefault, limits.USDCMax, "USDC base units")
	apiErr = r.finish()
	r.release()
	if apiErr != nil {
		return apiErr
	}
	if done, apiErr := s.idempotent(ctx, c, "admin"); done || apiErr != nil {
		return apiErr
	}
	hashes, err := s.config.Faucet(ctxOf(ctx), common.HexToAddress(address), wei, usdc)
	if err != nil {
		s.logger.Error("faucet", "error", err)
		return errUnavailable
	}
	txHashes := make([]string, len(hashes))
	for i, hash := range hashes {
		txHashes[i] = hash.Hex()
	}
	s.writeJSON(ctx, fasthttp.StatusOK, map[string]any{"txHashes": txHashes})
	return nil
}

// readFaucetAmount reads an optional amount field, within max.
func readFaucetAmount(r *reader, name string, defaultValue, max *big.Int, unit string) *big.Int {
	value := new(big.Int).Set(defaultValue)
	if amount, ok := r.amount(name, false); ok {
		value.SetString(amount.String(), 10)
		if value.Cmp(max) > 0 {
			r.fail(name, "must be at most "+max.String()+" "+unit)
		}
	}
	return value
}
