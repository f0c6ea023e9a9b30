package httpapi

import (
	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
)

// accountReader is who reads an account's records (its settlements, holds,
// sessions, usage): an API key, which reads its own account, or a user's
// access JWT, which reads the accounts the user owns. Every GET that lists
// an account's records resolves its account through one, so the rules are
// the same everywhere: a key's `account` defaults to its own and may name
// it; a user's must name one of the user's accounts; any other account is
// 404, as if it did not exist.
type accountReader struct {
	s          *Server
	keyAccount string // the key's account; "" for a user's token
	userID     string // the user's id; "" for a key
}

// accountReaderOf authenticates a reader: an API key with scope (the token
// has a key's shape), or else a user's access JWT.
func (s *Server) accountReaderOf(ctx *fasthttp.RequestCtx, scope access.Scope) (accountReader, *apiError) {
	if token, ok := bearer(ctx); !ok || looksLikeKey(token) {
		grant, apiErr := s.authenticateKey(ctx, scope)
		if apiErr != nil {
			return accountReader{}, apiErr
		}
		return accountReader{s: s, keyAccount: grant.account}, nil
	}
	u, apiErr := s.authenticateUser(ctx)
	if apiErr != nil {
		return accountReader{}, apiErr
	}
	return accountReader{s: s, userID: u.ID}, nil
}

// reads reports whether the reader may read account's records.
func (r accountReader) reads(account engine.AccountID) bool {
	if r.userID == "" {
		return string(account) == r.keyAccount
	}
	_, err := r.s.directory.Account(string(account), r.userID)
	return err == nil
}

// account returns the account a list is of: the `account` query parameter,
// or the key's own account when it is absent. A user's token must name one
// (fields records that it did not). Whether the reader may read it is
// checkAccount's, after the request's other fields are validated.
func (r accountReader) account(args *fasthttp.Args, fields map[string]string) engine.AccountID {
	account := string(args.Peek("account"))
	switch {
	case account == "" && r.userID == "":
		return engine.AccountID(r.keyAccount)
	case account == "":
		fields["account"] = "is required with a user's token: one of your accounts"
	}
	return engine.AccountID(account)
}

// checkAccount refuses an account the reader may not read: another's
// account does not exist, as far as this reader knows.
func (r accountReader) checkAccount(account engine.AccountID) *apiError {
	if !r.reads(account) {
		return notFound("account")
	}
	return nil
}
