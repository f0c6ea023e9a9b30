package httpapi

import (
	"errors"
	"net/mail"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/engine/directory"
	"github.com/tollway/tollway/httpapi/siwe"
)

const (
	// emailBytesMax is RFC 5321's limit on an address.
	emailBytesMax = 254
	// challengeTTL is how long a Sign-In with Ethereum challenge is valid.
	challengeTTL = 5 * time.Minute
	// siweMessageBytesMax matches the siwe package's input limit.
	siweMessageBytesMax = 4096
)

type userJSON struct {
	ID        string  `json:"id"`
	Email     *string `json:"email"`
	Address   *string `json:"address"`
	CreatedAt string  `json:"createdAt"`
}

func userOf(u *access.User) userJSON {
	j := userJSON{ID: u.ID, CreatedAt: timeJSON(u.CreatedAt)}
	if u.Email != "" {
		j.Email = &u.Email
	}
	if u.Address != "" {
		j.Address = &u.Address
	}
	return j
}

func timeJSON(t time.Time) string { return t.UTC().Format(time.RFC3339) }

type tokenPairJSON struct {
	AccessToken  string   `json:"accessToken"`
	RefreshToken string   `json:"refreshToken"`
	TokenType    string   `json:"tokenType"`
	ExpiresIn    int64    `json:"expiresIn"`
	User         userJSON `json:"user"`
}

// credentials reads {"email","password"}.
//
// NB: the email's limit applies to the normalized address, the one stored
// and compared: trimming and lowercasing change its length in bytes (Ⱥ, 2
// bytes, lowercases to ⱥ, 3 bytes; the Kelvin sign, 3 bytes, to k, 1). So
// the raw value is read under the limit of any string, and emailBytesMax is
// checked after normalizing.
func credentials(body []byte, signup bool) (email, password string, err *apiError) {
	r, err := parseObject(body)
	if err != nil {
		return "", "", err
	}
	defer r.release()
	email, okEmail := r.string("email", true, stringBytesMax)
	password, okPassword := r.string("password", true, PasswordBytesMax)
	if okEmail {
		email = normalizeEmail(email)
		if len(email) > emailBytesMax {
			r.fail("email", atMostBytes(emailBytesMax))
		} else if parsed, perr := mail.ParseAddress(email); perr != nil || parsed.Address != email || parsed.Name != "" {
			r.fail("email", "must be an email address")
		}
	}
	if okPassword && signup && len(password) < PasswordBytesMin {
		r.fail("password", "must be 8 to 72 bytes")
	}
	if err := r.finish(); err != nil {
		return "", "", err
	}
	return email, password, nil
}

func (s *Server) signup(ctx *fasthttp.RequestCtx, c *call) *apiError {
	if apiErr := s.guard.admitClient(ctx, s.now()); apiErr != nil {
		return apiErr
	}
	if done, err := s.idempotent(ctx, c, "anonymous"); done || err != nil {
		return err
	}
	email, password, apiErr := credentials(ctx.PostBody(), true)
	if apiErr != nil {
		return apiErr
	}
	hash, apiErr := s.guard.passwords.hash(password)
	if apiErr != nil {
		return apiErr
	}
	u := access.User{ID: newID(prefixUser), Email: email, PasswordHash: hash, CreatedAt: s.now().UTC()}
	if err := s.directory.CreateUser(ctxOf(ctx), u); err != nil {
		return errorOf(err, "a user with this email")
	}
	s.writeJSON(ctx, fasthttp.StatusCreated, map[string]any{"user": userOf(&u)})
	return nil
}

// login checks an email's password: after the client's bucket and the
// email's lockout, and in a bcrypt slot (clientlimit.go).
func (s *Server) login(ctx *fasthttp.RequestCtx, c *call) *apiError {
	now := s.now()
	if apiErr := s.guard.admitClient(ctx, now); apiErr != nil {
		return apiErr
	}
	email, password, apiErr := credentials(ctx.PostBody(), false)
	if apiErr != nil {
		return apiErr
	}
	if done, err := s.idempotent(ctx, c, "anonymous"); done || err != nil {
		return err
	}
	if apiErr := s.guard.beginLogin(email, now.UnixNano()); apiErr != nil {
		return apiErr
	}
	u, err := s.directory.UserByEmail(email)
	found := err == nil
	var hash []byte // nil: the dummy, so an unknown email costs a comparison too
	if found && len(u.PasswordHash) > 0 {
		hash = u.PasswordHash
	}
	matches, apiErr := s.guard.passwords.matches(hash, password)
	if apiErr != nil {
		return apiErr
	}
	if !matches || !found || hash == nil {
		return errInvalidCredentials
	}
	s.guard.loginSucceeded(email)
	return s.signIn(ctx, &u)
}

// signIn starts a refresh family for u and answers with a token pair.
func (s *Server) signIn(ctx *fasthttp.RequestCtx, u *access.User) *apiError {
	now := s.now()
	familyID, refreshToken := s.newRefreshToken()
	family := access.Family{ID: familyID, User: u.ID, Hash: s.hasher.hash([]byte(refreshToken)),
		CreatedAt: now.UTC(), ExpiresAt: now.Add(refreshTokenTTL).UTC()}
	if err := s.directory.StartFamily(ctxOf(ctx), family, now); err != nil {
		return errorOf(err, "session")
	}
	return s.writeTokenPair(ctx, u, refreshToken, now)
}

func (s *Server) writeTokenPair(ctx *fasthttp.RequestCtx, u *access.User, refreshToken string, now time.Time) *apiError {
	accessToken, err := s.issueAccessToken(u.ID, now)
	if err != nil {
		return errInternal
	}
	s.writeJSON(ctx, fasthttp.StatusOK, tokenPairJSON{
		AccessToken: accessToken, RefreshToken: refreshToken, TokenType: "Bearer",
		ExpiresIn: int64(s.config.AccessTokenTTL / time.Second), User: userOf(u),
	})
	return nil
}

// readRefreshToken reads {"refreshToken"}.
func readRefreshToken(body []byte) (string, *apiError) {
	r, err := parseObject(body)
	if err != nil {
		return "", err
	}
	defer r.release()
	token, _ := r.string("refreshToken", true, 256)
	return token, r.finish()
}

func (s *Server) refresh(ctx *fasthttp.RequestCtx, c *call) *apiError {
	if apiErr := s.guard.admitClient(ctx, s.now()); apiErr != nil {
		return apiErr
	}
	token, apiErr := readRefreshToken(ctx.PostBody())
	if apiErr != nil {
		return apiErr
	}
	if done, err := s.idempotent(ctx, c, "anonymous"); done || err != nil {
		return err
	}
	familyID, ok := parseRefreshToken(token)
	if !ok {
		return errInvalidCredentials
	}
	now := s.now()
	next := prefixFamily + familyID + randomBase62(refreshSecretChars)
	u, err := s.directory.RefreshFamily(ctxOf(ctx), familyID, s.hasher.hash([]byte(token)), s.hasher.hash([]byte(next)),
		now, now.Add(refreshTokenTTL).UTC())
	if err != nil {
		if errors.Is(err, directory.ErrTokenReused) {
			s.logger.Warn("refresh token reused; its family is revoked", "family", familyID)
		}
		return errorOf(err, "session")
	}
	return s.writeTokenPair(ctx, &u, next, now)
}

func (s *Server) logout(ctx *fasthttp.RequestCtx, c *call) *apiError {
	token, apiErr := readRefreshToken(ctx.PostBody())
	if apiErr != nil {
		return apiErr
	}
	familyID, ok := parseRefreshToken(token)
	if !ok {
		return errInvalidCredentials
	}
	if err := s.directory.EndFamily(ctxOf(ctx), familyID, s.hasher.hash([]byte(token))); err != nil {
		return errorOf(err, "session")
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

func (s *Server) logoutAll(ctx *fasthttp.RequestCtx, c *call) *apiError {
	u, apiErr := s.authenticateUser(ctx)
	if apiErr != nil {
		return apiErr
	}
	if apiErr := readEmpty(ctx.PostBody()); apiErr != nil {
		return apiErr
	}
	if err := s.directory.SignOutEverywhere(ctxOf(ctx), u.ID, s.now().UTC()); err != nil {
		return errorOf(err, "user")
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}

func (s *Server) me(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	u, apiErr := s.authenticateUser(ctx)
	if apiErr != nil {
		return apiErr
	}
	s.writeJSON(ctx, fasthttp.StatusOK, userOf(&u))
	return nil
}

// ---- Sign-In with Ethereum

// siweChallenge issues a challenge, within the client's and the address's
// buckets; challenges are kept in memory (challenges.go says why).
func (s *Server) siweChallenge(ctx *fasthttp.RequestCtx, c *call) *apiError {
	if apiErr := s.guard.admitClient(ctx, s.now()); apiErr != nil {
		return apiErr
	}
	r, apiErr := parseObject(ctx.PostBody())
	if apiErr != nil {
		return apiErr
	}
	address, ok := r.string("address", true, 42)
	if ok && !common.IsHexAddress(address) || ok && len(address) != 42 {
		r.fail("address", "must be a 0x-prefixed 20-byte hex address")
	}
	apiErr = r.finish()
	r.release()
	if apiErr != nil {
		return apiErr
	}
	now := s.now().UTC().Truncate(time.Second)
	if apiErr := s.guard.admitAddress(common.HexToAddress(address).Hex(), now); apiErr != nil {
		return apiErr
	}
	if done, err := s.idempotent(ctx, c, "anonymous"); done || err != nil {
		return err
	}
	nonce, err := siwe.NewNonce()
	if err != nil {
		return errInternal
	}
	uri := s.config.Origin
	if uri == "" {
		uri = "http://" + s.config.Domain
	}
	message := siwe.Message{
		Domain: s.config.Domain, Address: common.HexToAddress(address),
		Statement: "Sign in to Tollway.", URI: uri, Version: "1",
		ChainID: s.config.ChainID, Nonce: nonce, IssuedAt: now, ExpirationTime: now.Add(challengeTTL),
	}
	s.guard.challenges.add(nonce, message.Address.Hex(), message.ExpirationTime.UnixNano(), now.UnixNano())
	s.writeJSON(ctx, fasthttp.StatusOK, map[string]string{
		"nonce": nonce, "message": message.String(), "expiresAt": timeJSON(message.ExpirationTime),
	})
	return nil
}

func (s *Server) siweLogin(ctx *fasthttp.RequestCtx, c *call) *apiError {
	if apiErr := s.guard.admitClient(ctx, s.now()); apiErr != nil {
		return apiErr
	}
	r, apiErr := parseObject(ctx.PostBody())
	if apiErr != nil {
		return apiErr
	}
	text, _ := r.string("message", true, siweMessageBytesMax)
	signature, _ := r.string("signature", true, 200)
	apiErr = r.finish()
	r.release()
	if apiErr != nil {
		return apiErr
	}
	now := s.now()
	message, err := siwe.Verify(text, signature, siwe.Expect{Domain: s.config.Domain, ChainID: s.config.ChainID, Now: now})
	switch {
	case errors.Is(err, siwe.ErrMalformed):
		return validation(map[string]string{"message": "must be an EIP-4361 message signed with personal_sign"})
	case err != nil:
		return unauthenticated("invalid_credentials", "the message or its signature is not valid")
	}
	// The nonce is consumed before anything else: a replay finds it gone.
	address := message.Address.Hex()
	if issuedTo, ok := s.guard.challenges.take(message.Nonce, now.UnixNano()); !ok || issuedTo != address {
		return unauthenticated("invalid_credentials", "the challenge is unknown, used or expired")
	}
	u, err := s.directory.UserByAddress(address)
	if err != nil {
		u = access.User{ID: newID(prefixUser), Address: address, CreatedAt: now.UTC()}
		if err := s.directory.CreateUser(ctxOf(ctx), u); errors.Is(err, directory.ErrAlreadyExists) {
			if u, err = s.directory.UserByAddress(address); err != nil { // created concurrently
				return errUnavailable
			}
		} else if err != nil {
			return errorOf(err, "user")
		}
	}
	return s.signIn(ctx, &u)
}

// normalizeEmail lower-cases an email address for uniqueness.
func normalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }
