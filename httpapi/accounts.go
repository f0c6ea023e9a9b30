package httpapi

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/engine/directory"
)

// accountNameBytesMax bounds an account's name.
const accountNameBytesMax = 100

// The directory's caps (engine/directory enforces them; see there why these
// values), for Config and cmd/tollway's flags.
const (
	AccountsPerUserMax = directory.AccountsPerUserMax
	KeysPerAccountMax  = directory.KeysPerAccountMax
	FamiliesPerUserMax = directory.FamiliesPerUserMax
)

type balanceJSON struct {
	Available string `json:"available"`
	Reserved  string `json:"reserved"`
	Posted    string `json:"posted"`
	Pending   string `json:"pending"`
}

func balanceOf(b engine.Balance) balanceJSON {
	return balanceJSON{Available: b.Available.String(), Reserved: b.Reserved.String(), Posted: b.Posted.String(), Pending: b.Pending.String()}
}

type accountJSON struct {
	ID            string      `json:"id"`
	Name          string      `json:"name"`
	Environment   string      `json:"environment"`
	Asset         string      `json:"asset"`
	WalletAddress *string     `json:"walletAddress"`
	CreatedAt     string      `json:"createdAt"`
	Balance       balanceJSON `json:"balance"`
	// LowBalanceThreshold is the account's engine setting: "0" when off.
	LowBalanceThreshold string `json:"lowBalanceThreshold"`
}

func accountOf(p *access.Profile, b engine.Balance) accountJSON {
	j := accountJSON{ID: p.ID, Name: p.Name, Environment: string(p.Environment), Asset: access.Asset,
		CreatedAt: timeJSON(p.CreatedAt), Balance: balanceOf(b), LowBalanceThreshold: b.LowBalanceThreshold.String()}
	if p.WalletAddress != "" {
		j.WalletAddress = &p.WalletAddress
	}
	return j
}

func (s *Server) createAccount(ctx *fasthttp.RequestCtx, c *call) *apiError {
	u, apiErr := s.authenticateUser(ctx)
	if apiErr != nil {
		return apiErr
	}
	r, apiErr := parseObject(ctx.PostBody())
	if apiErr != nil {
		return apiErr
	}
	name, okName := r.string("name", true, accountNameBytesMax)
	if okName && name == "" {
		r.fail("name", "must be 1-100 bytes")
	}
	environment, okEnvironment := r.string("environment", true, 8)
	env, err := access.ParseEnvironment(environment)
	if okEnvironment && err != nil {
		r.fail("environment", `must be "test" or "live"`)
	}
	wallet, okWallet := readWallet(r)
	apiErr = r.finish()
	r.release()
	if apiErr != nil {
		return apiErr
	}
	if okWallet && wallet != u.Address {
		return errNotWalletOwner
	}
	if done, apiErr := s.idempotent(ctx, c, u.ID); done || apiErr != nil {
		return apiErr
	}
	p := access.Profile{ID: newID(prefixAccount), Owner: u.ID, Name: name, Environment: env, CreatedAt: s.now().UTC()}
	if okWallet {
		p.WalletAddress = wallet
	}
	if err := s.directory.CreateAccount(ctxOf(ctx), p, engine.LedgerID(env.Ledger())); err != nil {
		return errorOf(err, "account")
	}
	s.writeJSON(ctx, fasthttp.StatusCreated, accountOf(&p, engine.Balance{}))
	return nil
}

func (s *Server) listAccounts(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	u, apiErr := s.authenticateUser(ctx)
	if apiErr != nil {
		return apiErr
	}
	profiles := s.directory.Accounts(u.ID)
	data := make([]accountJSON, len(profiles))
	for i := range profiles {
		balance, err := s.engine.Balance(ctxOf(ctx), engine.AccountID(profiles[i].ID))
		if err != nil {
			return errorOf(err, "account")
		}
		data[i] = accountOf(&profiles[i], balance)
	}
	s.writeJSON(ctx, fasthttp.StatusOK, map[string]any{"data": data})
	return nil
}

// ownedAccount authenticates the user and finds the path's account among
// theirs.
func (s *Server) ownedAccount(ctx *fasthttp.RequestCtx) (access.User, access.Profile, *apiError) {
	u, apiErr := s.authenticateUser(ctx)
	if apiErr != nil {
		return u, access.Profile{}, apiErr
	}
	p, err := s.directory.Account(pathID(ctx), u.ID)
	if err != nil {
		return u, p, errorOf(err, "account")
	}
	return u, p, nil
}

func (s *Server) getAccount(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	_, p, apiErr := s.ownedAccount(ctx)
	if apiErr != nil {
		return apiErr
	}
	balance, err := s.engine.Balance(ctxOf(ctx), engine.AccountID(p.ID))
	if err != nil {
		return errorOf(err, "account")
	}
	s.writeJSON(ctx, fasthttp.StatusOK, accountOf(&p, balance))
	return nil
}

// readWallet reads a walletAddress field, in EIP-55 form.
func readWallet(r *reader) (string, bool) {
	wallet, ok := r.string("walletAddress", false, 42)
	if ok && (!common.IsHexAddress(wallet) || len(wallet) != 42) {
		r.fail("walletAddress", "must be a 0x-prefixed 20-byte hex address")
		return "", false
	}
	if !ok {
		return "", false
	}
	return common.HexToAddress(wallet).Hex(), true
}

// errNotWalletOwner refuses a wallet that is not the signed-in user's own:
// an account's wallet is its owner's Sign-In with Ethereum address, so
// deposits from it credit the account of whoever proved they hold it.
var errNotWalletOwner = forbidden("not_owner", "walletAddress must be the address you signed in with (Sign-In with Ethereum)")

// readLowBalanceThreshold reads a lowBalanceThreshold field: an amount
// of base units as a decimal string, "0" turning the threshold off.
func readLowBalanceThreshold(r *reader) (engine.Amount, bool) {
	v := r.field("lowBalanceThreshold", false)
	if v == nil {
		return engine.Amount{}, false
	}
	b, err := v.StringBytes()
	if err == nil {
		threshold, err := engine.ParseAmount(string(b))
		if err == nil && threshold.Cmp(amountMax) <= 0 {
			return threshold, true
		}
	}
	r.fail("lowBalanceThreshold", `must be an integer string of base units up to `+amountMax.String()+`, "0" to turn it off`)
	return engine.Amount{}, false
}

// updateAccount is PATCH /v1/accounts/{id}: binds the owner's wallet to an
// account that has none (a deposit made from it before is credited once
// it is bound), sets the account's low-balance threshold (balance.low
// webhooks), or both. Every field is checked before anything changes; the
// wallet, which may conflict, is bound first.
func (s *Server) updateAccount(ctx *fasthttp.RequestCtx, c *call) *apiError {
	u, p, apiErr := s.ownedAccount(ctx)
	if apiErr != nil {
		return apiErr
	}
	r, apiErr := parseObject(ctx.PostBody())
	if apiErr != nil {
		return apiErr
	}
	wallet, okWallet := readWallet(r)
	threshold, okThreshold := readLowBalanceThreshold(r)
	if !okWallet && !okThreshold && !r.failed() {
		r.fail("walletAddress", "or lowBalanceThreshold is required")
	}
	apiErr = r.finish()
	r.release()
	if apiErr != nil {
		return apiErr
	}
	if okWallet && wallet != u.Address {
		return errNotWalletOwner
	}
	if done, apiErr := s.idempotent(ctx, c, u.ID); done || apiErr != nil {
		return apiErr
	}
	if okWallet {
		bound, err := s.directory.BindWallet(ctxOf(ctx), p.ID, u.ID, wallet)
		if err != nil {
			return errorOf(err, "account")
		}
		p = bound
	}
	if okThreshold {
		if err := s.engine.SetLowBalanceThreshold(ctxOf(ctx), engine.AccountID(p.ID), threshold); err != nil {
			return errorOf(err, "account")
		}
	}
	balance, err := s.engine.Balance(ctxOf(ctx), engine.AccountID(p.ID))
	if err != nil {
		return errorOf(err, "account")
	}
	s.writeJSON(ctx, fasthttp.StatusOK, accountOf(&p, balance))
	return nil
}

type creditJSON struct {
	ID        string      `json:"id"`
	AccountID string      `json:"accountId"`
	Amount    string      `json:"amount"`
	Balance   balanceJSON `json:"balance"`
	Position  uint64      `json:"position"`
	CreatedAt string      `json:"createdAt"`
	Replayed  bool        `json:"replayed,omitempty"`
}

// credit funds an account from its ledger's chain account (admin only):
// test funding and benchmarks. With an Idempotency-Key it is exactly once,
// across restarts, like a charge.
func (s *Server) credit(ctx *fasthttp.RequestCtx, c *call) *apiError {
	if apiErr := s.authenticateAdmin(ctx); apiErr != nil {
		return apiErr
	}
	r, apiErr := parseObject(ctx.PostBody())
	if apiErr != nil {
		return apiErr
	}
	amount, _ := r.amount("amount", true)
	apiErr = r.finish()
	r.release()
	if apiErr != nil {
		return apiErr
	}
	account := pathID(ctx)
	if _, err := s.directory.AnyAccount(account); err != nil {
		return errorOf(err, "account")
	}
	done, key, apiErr := s.idempotentKey(ctx, c, "admin")
	if done || apiErr != nil {
		return apiErr
	}
	id := newID(prefixCredit)
	if key != "" {
		id = derivedID(prefixCredit, account, key)
	}
	t, err := s.engine.Credit(ctxOf(ctx), engine.TransferID(id), engine.AccountID(account), amount)
	if err != nil {
		return errorOf(err, "account")
	}
	if t.Replayed {
		if t.Balance, err = s.engine.Balance(ctxOf(ctx), engine.AccountID(account)); err != nil {
			return errorOf(err, "account")
		}
	}
	s.writeJSON(ctx, fasthttp.StatusOK, creditJSON{ID: id, AccountID: account, Amount: t.Amount.String(),
		Balance: balanceOf(t.Balance), Position: t.Position, CreatedAt: timeJSON(t.Time), Replayed: t.Replayed})
	return nil
}
