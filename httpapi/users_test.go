package httpapi

import (
	"crypto/ecdsa"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/golang-jwt/jwt/v5"

	"github.com/tollway/tollway/httpapi/siwe"
)

func TestSignupLoginAndMe(t *testing.T) {
	ts := startServer(t)
	u := ts.signup("Ada@Example.com")
	me := expect(t, ts.do("GET", "/v1/auth/me", u.access, nil), 200, "", "")
	if me["id"] != u.id || me["email"] != "ada@example.com" {
		t.Fatalf("me = %v", me)
	}
	expect(t, ts.do("POST", "/v1/auth/signup", "", map[string]string{"email": "ada@example.com", "password": "another pass"}), 409, "conflict_error", "already_exists")
	for _, body := range []any{
		map[string]string{"email": "not-an-email", "password": "long enough"},
		map[string]string{"email": "b@example.com", "password": "short"},
		map[string]string{"email": "b@example.com", "password": strings.Repeat("p", 73)},
		map[string]string{"email": "b@example.com"},
		`{"email":"b@example.com","password":12345678}`,
	} {
		expect(t, ts.do("POST", "/v1/auth/signup", "", body), 400, "invalid_request_error", "validation_failed")
	}
	wrong := expect(t, ts.do("POST", "/v1/auth/login", "", map[string]string{"email": "ada@example.com", "password": "wrong password"}), 401, "authentication_error", "invalid_credentials")
	unknown := expect(t, ts.do("POST", "/v1/auth/login", "", map[string]string{"email": "nobody@example.com", "password": "wrong password"}), 401, "authentication_error", "invalid_credentials")
	if wrong["message"] != unknown["message"] {
		t.Fatalf("messages differ for a wrong password (%v) and an unknown email (%v)", wrong["message"], unknown["message"])
	}
	ts.restart()
	expect(t, ts.do("POST", "/v1/auth/login", "", map[string]string{"email": "ada@example.com", "password": u.password}), 200, "", "")
}

func TestAccessTokensAreCheckedStrictly(t *testing.T) {
	ts := startServer(t)
	u := ts.signup("jwt@example.com")
	parts := strings.Split(u.access, ".")
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	forged := strings.Replace(string(claims), u.id, "usr_someoneelse000000000", 1)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + parts[2]
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	algNone := noneHeader + "." + parts[1] + "."
	secret := ts.server.config.JWTSecret
	sign := func(method jwt.SigningMethod, key any, claims jwt.RegisteredClaims) string {
		s, err := jwt.NewWithClaims(method, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := ts.clock.Now()
	valid := jwt.RegisteredClaims{Issuer: jwtIssuer, Audience: jwt.ClaimStrings{jwtAudience}, Subject: u.id,
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute))}
	expired, wrongIssuer, wrongAudience, noExpiry := valid, valid, valid, valid
	expired.IssuedAt, expired.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Hour)), jwt.NewNumericDate(now.Add(-time.Minute))
	wrongIssuer.Issuer = "someone"
	wrongAudience.Audience = jwt.ClaimStrings{"other"}
	noExpiry.ExpiresAt = nil
	for name, c := range map[string]struct {
		token string
		code  string
	}{
		"tampered":       {tampered, "invalid_credentials"},
		"alg none":       {algNone, "invalid_credentials"},
		"HS512":          {sign(jwt.SigningMethodHS512, secret, valid), "invalid_credentials"},
		"other secret":   {sign(jwt.SigningMethodHS256, []byte("another secret of at least 32 bytes!"), valid), "invalid_credentials"},
		"expired":        {sign(jwt.SigningMethodHS256, secret, expired), "token_expired"},
		"wrong issuer":   {sign(jwt.SigningMethodHS256, secret, wrongIssuer), "invalid_credentials"},
		"wrong audience": {sign(jwt.SigningMethodHS256, secret, wrongAudience), "invalid_credentials"},
		"no expiry":      {sign(jwt.SigningMethodHS256, secret, noExpiry), "invalid_credentials"},
		"an API key":     {"sk_test_" + strings.Repeat("a", 40), "invalid_credentials"},
	} {
		t.Run(name, func(t *testing.T) {
			expect(t, ts.do("GET", "/v1/auth/me", c.token, nil), 401, "authentication_error", c.code)
		})
	}
	expect(t, ts.do("GET", "/v1/auth/me", sign(jwt.SigningMethodHS256, secret, valid), nil), 200, "", "")
	ts.clock.Advance(AccessTokenTTLDefault + time.Second)
	expect(t, ts.do("GET", "/v1/auth/me", u.access, nil), 401, "authentication_error", "token_expired")
}

func TestRefreshRotatesAndReuseRevokesTheFamily(t *testing.T) {
	ts := startServer(t)
	u := ts.signup("refresh@example.com")
	pair := expect(t, ts.do("POST", "/v1/auth/refresh", "", map[string]string{"refreshToken": u.refresh}), 200, "", "")
	second := pair["refreshToken"].(string)
	if second == u.refresh || pair["accessToken"] == "" {
		t.Fatalf("refresh did not rotate: %v", pair)
	}
	ts.restart() // families are durable
	third := expect(t, ts.do("POST", "/v1/auth/refresh", "", map[string]string{"refreshToken": second}), 200, "", "")["refreshToken"].(string)
	// The first token again: reuse. The family dies, and the latest token with it.
	expect(t, ts.do("POST", "/v1/auth/refresh", "", map[string]string{"refreshToken": u.refresh}), 401, "authentication_error", "invalid_credentials")
	expect(t, ts.do("POST", "/v1/auth/refresh", "", map[string]string{"refreshToken": third}), 401, "authentication_error", "invalid_credentials")
	// Logout ends one family; logout-all ends every session.
	a := expect(t, ts.do("POST", "/v1/auth/login", "", map[string]string{"email": u.email, "password": u.password}), 200, "", "")
	b := expect(t, ts.do("POST", "/v1/auth/login", "", map[string]string{"email": u.email, "password": u.password}), 200, "", "")
	expect(t, ts.do("POST", "/v1/auth/logout", "", map[string]string{"refreshToken": a["refreshToken"].(string)}), 204, "", "")
	expect(t, ts.do("POST", "/v1/auth/refresh", "", map[string]string{"refreshToken": a["refreshToken"].(string)}), 401, "authentication_error", "invalid_credentials")
	expect(t, ts.do("POST", "/v1/auth/refresh", "", map[string]string{"refreshToken": b["refreshToken"].(string)}), 200, "", "")
	ts.clock.Advance(time.Second)
	expect(t, ts.do("POST", "/v1/auth/logout-all", b["accessToken"].(string), nil), 204, "", "")
	expect(t, ts.do("GET", "/v1/auth/me", b["accessToken"].(string), nil), 401, "authentication_error", "invalid_credentials")
	ts.clock.Advance(time.Second)
	fresh := expect(t, ts.do("POST", "/v1/auth/login", "", map[string]string{"email": u.email, "password": u.password}), 200, "", "")
	expect(t, ts.do("GET", "/v1/auth/me", fresh["accessToken"].(string), nil), 200, "", "")
	expect(t, ts.do("POST", "/v1/auth/refresh", "", map[string]string{"refreshToken": "rt_garbage"}), 401, "authentication_error", "invalid_credentials")
}

func TestSignInWithEthereum(t *testing.T) {
	ts := startServer(t)
	key, _ := crypto.GenerateKey()
	address := crypto.PubkeyToAddress(key.PublicKey).Hex()
	challenge := func() (nonce, message string) {
		v := expect(t, ts.do("POST", "/v1/auth/siwe/challenge", "", map[string]string{"address": address}), 200, "", "")
		return v["nonce"].(string), v["message"].(string)
	}
	login := func(message string, signer any) response {
		k := key
		if signer != nil {
			k = signer.(*ecdsa.PrivateKey)
		}
		signature, err := siwe.Sign(message, k)
		if err != nil {
			t.Fatal(err)
		}
		return ts.do("POST", "/v1/auth/siwe/login", "", map[string]string{"message": message, "signature": signature})
	}
	_, message := challenge()
	first := expect(t, login(message, nil), 200, "", "")
	userID := first["user"].(map[string]any)["id"]
	if first["user"].(map[string]any)["address"] != address {
		t.Fatalf("user = %v, want address %s", first["user"], address)
	}
	expect(t, login(message, nil), 401, "authentication_error", "invalid_credentials") // replayed nonce
	_, message = challenge()
	second := expect(t, login(message, nil), 200, "", "")
	if second["user"].(map[string]any)["id"] != userID {
		t.Fatal("a second sign-in made a second user")
	}
	other, _ := crypto.GenerateKey()
	_, message = challenge()
	expect(t, login(message, other), 401, "authentication_error", "invalid_credentials") // wrong signer
	_, message = challenge()
	wrongDomain := strings.Replace(message, ts.server.config.Domain+" wants", "evil.example wants", 1)
	expect(t, login(wrongDomain, nil), 401, "authentication_error", "invalid_credentials")
	_, message = challenge()
	ts.restart() // forgets the challenge, which has expired by now anyway
	ts.clock.Advance(challengeTTL + time.Second)
	expect(t, login(message, nil), 401, "authentication_error", "invalid_credentials") // expired
	expect(t, ts.do("POST", "/v1/auth/siwe/challenge", "", map[string]string{"address": "0x123"}), 400, "invalid_request_error", "validation_failed")
	expect(t, ts.do("POST", "/v1/auth/siwe/login", "", map[string]string{"message": "hello", "signature": "0x00"}), 400, "invalid_request_error", "validation_failed")
}

func TestSecretsNeverReachTheLog(t *testing.T) {
	ts := startServer(t)
	m := ts.market("1000")
	expect(t, ts.do("POST", "/v1/charges", m.key, map[string]string{"to": m.payee, "amount": "1"}), 201, "", "")
	expect(t, ts.do("POST", "/v1/auth/login", "", map[string]string{"email": m.consumer.email, "password": "wrong password"}), 401, "authentication_error", "invalid_credentials")
	wrongKey := m.key[:len(m.key)-1] + "x"
	if wrongKey == m.key {
		wrongKey = m.key[:len(m.key)-1] + "y"
	}
	expect(t, ts.do("GET", "/v1/balance", wrongKey, nil), 401, "authentication_error", "invalid_credentials")
	logs := ts.logs.String()
	if !strings.Contains(logs, "request_id=req_") {
		t.Fatal("the captured log has no request ids: is it capturing?")
	}
	for name, secret := range map[string]string{
		"API key": m.key, "API key body": m.key[8:], "password": m.consumer.password, "wrong password": "wrong password",
		"access token": m.consumer.access, "refresh token": m.consumer.refresh, "admin token": testAdminToken,
	} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains the %s", name)
		}
	}
}
