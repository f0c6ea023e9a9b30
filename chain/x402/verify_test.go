package x402

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
)

func TestVerifyAcceptsAlicesAuthorization(t *testing.T) {
	w := newWorld(t)
	verification := w.verify(body(w.requirements(), w.authorize("n1").payload()))
	want := VerifyResponse{IsValid: true, Payer: w.alice.address.Hex()}
	if verification.Response != want {
		t.Fatalf("Verify = %+v, want %+v", verification.Response, want)
	}
	if verification.Authorization == nil || verification.Authorization.From != w.alice.address || verification.Token != w.usdc {
		t.Fatalf("Verification = %+v, want alice's authorization on %s", verification, w.usdc.Hex())
	}
}

// TestVerifiedAuthorizationSettlesOnChain: the call data of a verified
// authorization executes on the real token and moves exactly its value;
// afterwards verification refuses the used nonce. Both v encodings.
func TestVerifiedAuthorizationSettlesOnChain(t *testing.T) {
	for _, vOffset := range []byte{0, 27} {
		w := newWorld(t)
		authorization := w.authorize("settle")
		authorization.signature[64] = authorization.signature[64] - 27 + vOffset
		requestBody := body(w.requirements(), authorization.payload())
		verification := w.verify(requestBody)
		if !verification.Response.IsValid {
			t.Fatalf("v offset %d: Verify = %+v, want valid", vOffset, verification.Response)
		}
		aliceBefore, payeeBefore := w.balance(w.alice.address), w.balance(w.payee.address)
		if status := w.settle(verification.Authorization); status != types.ReceiptStatusSuccessful {
			t.Fatalf("v offset %d: settlement status %d, want success", vOffset, status)
		}
		if got, want := new(big.Int).Sub(aliceBefore, w.balance(w.alice.address)), big.NewInt(testAmount); got.Cmp(want) != 0 {
			t.Fatalf("v offset %d: alice paid %s, want %s", vOffset, got, want)
		}
		if got, want := new(big.Int).Sub(w.balance(w.payee.address), payeeBefore), big.NewInt(testAmount); got.Cmp(want) != 0 {
			t.Fatalf("v offset %d: payee received %s, want %s", vOffset, got, want)
		}
		after := w.verify(requestBody)
		if after.Response.IsValid || after.Response.InvalidReason != ReasonNonceAlreadyUsed {
			t.Fatalf("v offset %d: Verify after settlement = %+v, want %s", vOffset, after.Response, ReasonNonceAlreadyUsed)
		}
	}
}

// TestVerifyAcceptsVZeroOneAndTwentySevenTwentyEight signs until it has
// met both recovery ids (each signature's is a fair coin: 64 signatures
// all alike happen once in 2^63 runs), and tries each in both spellings.
func TestVerifyAcceptsVZeroOneAndTwentySevenTwentyEight(t *testing.T) {
	const signaturesMax = 64
	w := newWorld(t)
	seen := map[byte]bool{}
	for i := 0; i < signaturesMax && len(seen) < 4; i++ {
		authorization := w.authorize(fmt.Sprintf("v%d", i))
		for _, v := range []byte{authorization.signature[64] - 27, authorization.signature[64]} {
			authorization.signature[64] = v
			seen[v] = true
			if verification := w.verify(body(w.requirements(), authorization.payload())); !verification.Response.IsValid {
				t.Fatalf("v=%d: Verify = %+v, want valid", v, verification.Response)
			}
		}
	}
	for _, v := range []byte{0, 1, 27, 28} {
		if !seen[v] {
			t.Fatalf("no signature with v=%d was tried in %d signatures", v, signaturesMax)
		}
	}
}

// TestVerifyRejectsHighS: (r, n-s, v^1) is the same signature's twin,
// which ecrecover accepts and the token (EIP-2) refuses.
func TestVerifyRejectsHighS(t *testing.T) {
	w := newWorld(t)
	authorization := w.authorize("high-s")
	n := crypto.S256().Params().N
	s := new(big.Int).SetBytes(authorization.signature[32:64])
	copy(authorization.signature[32:64], common.LeftPadBytes(new(big.Int).Sub(n, s).Bytes(), 32))
	authorization.signature[64] = 27 + 28 - authorization.signature[64]
	digest := TransferWithAuthorizationDigest(DomainSeparator("USD Coin", "2", simChainID, w.usdc), w.authorizationOf(authorization))
	// The ecrecover precompile (which, unlike go-ethereum's SigToPub,
	// takes any s) recovers alice from the twin.
	precompile := common.BytesToAddress([]byte{1})
	input := append(append(append(digest.Bytes(), common.LeftPadBytes([]byte{authorization.signature[64]}, 32)...),
		authorization.signature[:32]...), authorization.signature[32:64]...)
	recovered, err := w.client.CallContract(context.Background(), ethereum.CallMsg{To: &precompile, Data: input}, nil)
	if err != nil || common.BytesToAddress(recovered) != w.alice.address {
		t.Fatalf("the high-s twin recovers %x (%v), not alice: the test proves nothing", recovered, err)
	}
	verification := w.verify(body(w.requirements(), authorization.payload()))
	if verification.Response.IsValid || verification.Response.InvalidReason != ReasonInvalidSignature {
		t.Fatalf("Verify(high s) = %+v, want %s", verification.Response, ReasonInvalidSignature)
	}
	// The token agrees: executing it reverts.
	if _, err := w.token.CallRaw(&bind.CallOpts{From: w.relayer.address}, SettleCallData(w.authorizationOf(authorization))); err == nil {
		t.Fatalf("the token executes a high-s signature; the rule would be needless")
	}
}

// authorizationOf parses a test authorization as Verify does.
func (w *world) authorizationOf(a signed) *Authorization {
	w.t.Helper()
	authorization, reason, err := parseExactEVMPayload(a.payload())
	if err != nil {
		w.t.Fatalf("parseExactEVMPayload: %s %v", reason, err)
	}
	return authorization
}

// TestVerifyReasons checks each rule by breaking it alone: the reason is
// the reference's, and payer is `from` once the payload parsed.
func TestVerifyReasons(t *testing.T) {
	w := newWorld(t)
	now := w.now.Unix()
	type edit struct {
		requirements func(*PaymentRequirements)
		accepted     func(*PaymentRequirements)
		payload      func(a *signed) json.RawMessage // nil: the authorization as signed
	}
	resign := func(change func(*signed), d func() domain) func(*signed) json.RawMessage {
		return func(a *signed) json.RawMessage {
			change(a)
			domain := w.usdcDomain()
			if d != nil {
				domain = d()
			}
			a.sign(t, w.alice.key, domain)
			return a.payload()
		}
	}
	raw := func(payload string) func(*signed) json.RawMessage {
		return func(*signed) json.RawMessage { return json.RawMessage(payload) }
	}
	for _, test := range []struct {
		name   string
		edit   edit
		reason string // "" for valid
		payer  bool
	}{
		{"unsupported scheme", edit{requirements: func(r *PaymentRequirements) { r.Scheme = "upto" }}, ReasonUnsupportedScheme, false},
		{"network not served", edit{requirements: func(r *PaymentRequirements) { r.Network = "eip155:8453" }}, ReasonInvalidNetwork, false},
		{"v1 name in v2", edit{requirements: func(r *PaymentRequirements) { r.Network = "tollway-local" }}, ReasonInvalidNetwork, false},
		{"asset not an address", edit{requirements: func(r *PaymentRequirements) { r.Asset = "USDC" }}, ReasonInvalidRequirements, false},
		{"payload not an object", edit{payload: raw(`"0x1234"`)}, ReasonInvalidExactPayload, false},
		{"from not an address", edit{payload: raw(`{"signature":"0x01","authorization":{"from":"alice","to":"0x0000000000000000000000000000000000000001","value":"1","validAfter":"0","validBefore":"1","nonce":"0x00"}}`)}, ReasonInvalidExactPayload, false},
		{"short nonce", edit{payload: func(a *signed) json.RawMessage {
			return json.RawMessage(strings.Replace(string(a.payload()), a.nonce.Hex(), "0x1234", 1))
		}}, ReasonInvalidExactPayload, true},
		{"value not decimal", edit{payload: func(a *signed) json.RawMessage {
			return json.RawMessage(strings.Replace(string(a.payload()), `"value":"10000"`, `"value":"1e4"`, 1))
		}}, ReasonInvalidExactPayload, true},
		{"missing signature", edit{payload: func(a *signed) json.RawMessage { a.signature = nil; return a.payload() }}, ReasonMissingSignature, true},
		{"accepted another scheme", edit{accepted: func(r *PaymentRequirements) { r.Scheme = "upto" }}, ReasonInvalidScheme, true},
		{"no EIP-712 domain", edit{requirements: func(r *PaymentRequirements) { r.Extra = nil }}, ReasonMissingEIP712Domain, true},
		{"empty EIP-712 version", edit{requirements: func(r *PaymentRequirements) { r.Extra = json.RawMessage(`{"name":"USD Coin","version":""}`) }}, ReasonMissingEIP712Domain, true},
		{"accepted another network", edit{accepted: func(r *PaymentRequirements) { r.Network = "eip155:8453" }}, ReasonNetworkMismatch, true},
		{"signed by bob", edit{payload: func(a *signed) json.RawMessage { a.sign(t, w.bob.key, w.usdcDomain()); return a.payload() }}, ReasonInvalidSignature, true},
		{"signed for version 1", edit{payload: resign(func(*signed) {}, func() domain { d := w.usdcDomain(); d.version = "1"; return d })}, ReasonInvalidSignature, true},
		{"signed for chain 8453", edit{payload: resign(func(*signed) {}, func() domain { d := w.usdcDomain(); d.chainID = big.NewInt(8453); return d })}, ReasonInvalidSignature, true},
		{"signed for another token", edit{payload: resign(func(*signed) {}, func() domain { d := w.usdcDomain(); d.contract = w.payee.address; return d })}, ReasonInvalidSignature, true},
		{"signature v 29", edit{payload: func(a *signed) json.RawMessage { a.signature[64] = 29; return a.payload() }}, ReasonInvalidSignature, true},
		{"signature of 66 bytes from an EOA", edit{payload: func(a *signed) json.RawMessage { a.signature = append(a.signature, 0); return a.payload() }}, ReasonUndeployedSmartWallet, true},
		{"paid to bob", edit{payload: resign(func(a *signed) { a.to = w.bob.address }, nil)}, ReasonRecipientMismatch, true},
		{"payTo in lower case", edit{requirements: func(r *PaymentRequirements) { r.PayTo = strings.ToLower(r.PayTo) }}, "", true},
		{"payTo in upper case", edit{requirements: func(r *PaymentRequirements) { r.PayTo = "0x" + strings.ToUpper(r.PayTo[2:]) }}, "", true},
		{"expired", edit{payload: resign(func(a *signed) { a.validBefore = big.NewInt(now - 1) }, nil)}, ReasonValidBeforeExpired, true},
		{"5 s left to settle", edit{payload: resign(func(a *signed) { a.validBefore = big.NewInt(now + 5) }, nil)}, ReasonValidBeforeExpired, true},
		{"6 s left to settle", edit{payload: resign(func(a *signed) { a.validBefore = big.NewInt(now + 6) }, nil)}, "", true},
		{"valid from the next second", edit{payload: resign(func(a *signed) { a.validAfter = big.NewInt(now + 1) }, nil)}, ReasonValidAfterInFuture, true},
		{"valid from now", edit{payload: resign(func(a *signed) { a.validAfter = big.NewInt(now) }, nil)}, "", true},
		{"one unit more", edit{payload: resign(func(a *signed) { a.value = big.NewInt(testAmount + 1) }, nil)}, ReasonAuthorizationValue, true},
		{"one unit less", edit{payload: resign(func(a *signed) { a.value = big.NewInt(testAmount - 1) }, nil)}, ReasonAuthorizationValue, true},
		{"token version is not 1", edit{
			requirements: func(r *PaymentRequirements) { r.Extra = json.RawMessage(`{"name":"USD Coin","version":"1"}`) },
			payload:      resign(func(*signed) {}, func() domain { d := w.usdcDomain(); d.version = "1"; return d }),
		}, ReasonTokenVersionMismatch, true},
		{"token name is not USDC", edit{
			requirements: func(r *PaymentRequirements) { r.Extra = json.RawMessage(`{"name":"USDC","version":"2"}`) },
			payload:      resign(func(*signed) {}, func() domain { d := w.usdcDomain(); d.name = "USDC"; return d }),
		}, ReasonTokenNameMismatch, true},
		{"carol has nothing", edit{payload: func(a *signed) json.RawMessage {
			a.from = w.carol.address
			a.sign(t, w.carol.key, w.usdcDomain())
			return a.payload()
		}}, ReasonInsufficientBalance, true},
	} {
		t.Run(test.name, func(t *testing.T) {
			authorization := w.authorize(test.name)
			requirements, accepted := w.requirements(), w.requirements()
			if test.edit.requirements != nil {
				test.edit.requirements(&requirements)
				test.edit.requirements(&accepted)
			}
			if test.edit.accepted != nil {
				test.edit.accepted(&accepted)
			}
			payload := authorization.payload()
			if test.edit.payload != nil {
				payload = test.edit.payload(&authorization)
			}
			requestBody := body(requirements, payload)
			// accepted differs from requirements only when edited.
			var request VerifyRequest
			if err := json.Unmarshal(requestBody, &request); err != nil {
				t.Fatal(err)
			}
			request.PaymentPayload.Accepted = accepted
			requestBody, _ = json.Marshal(request)

			got := w.verify(requestBody).Response
			want := VerifyResponse{IsValid: test.reason == "", InvalidReason: test.reason}
			if test.payer {
				want.Payer = authorization.from.Hex()
			}
			if got.IsValid != want.IsValid || got.InvalidReason != want.InvalidReason || got.Payer != want.Payer {
				t.Fatalf("Verify = %+v, want %+v", got, want)
			}
			if !got.IsValid && got.InvalidMessage == "" {
				t.Fatalf("Verify = %+v, want a message with the reason", got)
			}
		})
	}
}

func TestVerifyInsufficientBalanceByOneUnit(t *testing.T) {
	w := newWorld(t)
	w.send(w.alice, tokenBinding().PackTransfer(w.bob.address, big.NewInt(1_000_000-testAmount+1)))
	if balance := w.balance(w.alice.address); balance.Cmp(big.NewInt(testAmount-1)) != 0 {
		t.Fatalf("alice holds %s, want %d", balance, testAmount-1)
	}
	got := w.verify(body(w.requirements(), w.authorize("poor").payload())).Response
	if got.IsValid || got.InvalidReason != ReasonInsufficientBalance {
		t.Fatalf("Verify = %+v, want %s", got, ReasonInsufficientBalance)
	}
	w.send(w.bob, tokenBinding().PackTransfer(w.alice.address, big.NewInt(1)))
	if got := w.verify(body(w.requirements(), w.authorize("poor").payload())).Response; !got.IsValid {
		t.Fatalf("Verify with exactly the amount = %+v, want valid", got)
	}
}

// TestVerifyERC1271Wallet: a contract wallet's signature is checked by
// its isValidSignature, and the same call data settles it on chain.
func TestVerifyERC1271Wallet(t *testing.T) {
	w := newWorld(t)
	approved := signed{
		from: walletAddress, to: w.payee.address, value: w.walletAuthorization.Value,
		validAfter: w.walletAuthorization.ValidAfter, validBefore: w.walletAuthorization.ValidBefore,
		nonce: w.walletAuthorization.Nonce, signature: w.walletAuthorization.Signature,
	}
	got := w.verify(body(w.requirements(), approved.payload()))
	if want := (VerifyResponse{IsValid: true, Payer: walletAddress.Hex()}); got.Response != want {
		t.Fatalf("Verify(approved) = %+v, want %+v", got.Response, want)
	}
	other := approved
	other.nonce = common.HexToHash("0x1272")
	if got := w.verify(body(w.requirements(), other.payload())).Response; got.IsValid || got.InvalidReason != ReasonInvalidSignature {
		t.Fatalf("Verify(not approved) = %+v, want %s", got, ReasonInvalidSignature)
	}
	walletBefore := w.balance(walletAddress)
	if status := w.settle(got.Authorization); status != types.ReceiptStatusSuccessful {
		t.Fatalf("settlement status %d, want success", status)
	}
	if paid := new(big.Int).Sub(walletBefore, w.balance(walletAddress)); paid.Cmp(big.NewInt(testAmount)) != 0 {
		t.Fatalf("wallet paid %s, want %d", paid, testAmount)
	}
	if got := w.verify(body(w.requirements(), approved.payload())).Response; got.InvalidReason != ReasonNonceAlreadyUsed {
		t.Fatalf("Verify after settlement = %+v, want %s", got, ReasonNonceAlreadyUsed)
	}
}

// TestVerifyV1: a v1 request on our chain, by its v1 name or its CAIP-2
// id; the reference's v1 names of other chains are not served.
func TestVerifyV1(t *testing.T) {
	w := newWorld(t)
	for _, test := range []struct {
		network string
		reason  string
	}{
		{"tollway-local", ""},
		{"eip155:1337", ""},
		{"base-sepolia", ReasonInvalidNetwork},
	} {
		request := VerifyRequestV1{
			X402Version:    1,
			PaymentPayload: PaymentPayloadV1{X402Version: 1, Scheme: "exact", Network: test.network, Payload: w.authorize("v1 " + test.network).payload()},
			PaymentRequirements: PaymentRequirementsV1{
				Scheme: "exact", Network: test.network, MaxAmountRequired: "10000", Resource: "http://127.0.0.1/paid",
				PayTo: w.payee.address.Hex(), MaxTimeoutSeconds: 60, Asset: w.usdc.Hex(), Extra: json.RawMessage(`{"name":"USD Coin","version":"2"}`),
			},
		}
		requestBody, _ := json.Marshal(request)
		got := w.verify(requestBody).Response
		if got.IsValid != (test.reason == "") || got.InvalidReason != test.reason {
			t.Fatalf("Verify(v1 on %s) = %+v, want reason %q", test.network, got, test.reason)
		}
	}
	// v1 compares payload and requirements networks as networks.
	request := VerifyRequestV1{
		X402Version:    1,
		PaymentPayload: PaymentPayloadV1{X402Version: 1, Scheme: "exact", Network: "tollway-local", Payload: w.authorize("v1 mixed").payload()},
		PaymentRequirements: PaymentRequirementsV1{
			Scheme: "exact", Network: "eip155:1337", MaxAmountRequired: "10001",
			PayTo: w.payee.address.Hex(), Asset: w.usdc.Hex(), Extra: json.RawMessage(`{"name":"USD Coin","version":"2"}`),
		},
	}
	requestBody, _ := json.Marshal(request)
	if got := w.verify(requestBody).Response; got.InvalidReason != ReasonAuthorizationValue {
		t.Fatalf("Verify(v1, maxAmountRequired 10001) = %+v, want %s", got, ReasonAuthorizationValue)
	}
}

// downChain is a node that answers no call.
type downChain struct{ ChainReader }

var errNodeDown = errors.New("node down")

func (downChain) CallContract(context.Context, ethereum.CallMsg, *big.Int) ([]byte, error) {
	return nil, errNodeDown
}

// TestVerifyChainReadFailureIsAnError: a failed read is no verdict.
func TestVerifyChainReadFailureIsAnError(t *testing.T) {
	w := newWorld(t)
	verifier, err := NewVerifier(Config{
		Networks: []Network{{ID: "eip155:1337", ChainID: simChainID, Chain: downChain{w.client}}},
		Now:      w.verifier.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	request, err := ParseRequest(body(w.requirements(), w.authorize("down").payload()))
	if err != nil {
		t.Fatal(err)
	}
	verification, err := verifier.Verify(context.Background(), request)
	if !errors.Is(err, ErrChainRead) || !strings.Contains(err.Error(), errNodeDown.Error()) {
		t.Fatalf("Verify with the node down: err %v, want ErrChainRead with the cause", err)
	}
	if verification.Response.IsValid || verification.Response.InvalidReason != ReasonFailedToVerifySignature {
		t.Fatalf("Verify with the node down = %+v, want reason %s", verification.Response, ReasonFailedToVerifySignature)
	}
}

// TestCheckChainReadFailures: each of the token's reads that failed (the
// node answered, the token's call did not) is no verdict either, with the
// reference's reason for that read, in the reference's order.
func TestCheckChainReadFailures(t *testing.T) {
	domain := common.HexToHash("0xd0")
	read := chainState{nonceRead: true, domainRead: true, balanceRead: true, balance: big.NewInt(testAmount), domain: domain}
	authorization := &Authorization{From: common.HexToAddress("0xa1"), Value: big.NewInt(testAmount)}
	for _, test := range []struct {
		name   string
		change func(*chainState)
		reason string
		err    bool
	}{
		{"all read", func(*chainState) {}, "", false},
		{"nonce", func(s *chainState) { s.nonceRead = false; s.domainRead = false }, ReasonFailedToCheckNonce, true},
		{"nonce used", func(s *chainState) { s.nonceUsed = true; s.domainRead = false }, ReasonNonceAlreadyUsed, false},
		{"domain", func(s *chainState) { s.domainRead = false; s.balanceRead = false }, ReasonFailedToVerifySignature, true},
		{"balance", func(s *chainState) { s.balanceRead = false }, ReasonFailedToGetBalance, true},
		{"balance short", func(s *chainState) { s.balance = big.NewInt(testAmount - 1) }, ReasonInsufficientBalance, false},
	} {
		state := read
		test.change(&state)
		reason, _, err := checkChain(context.Background(), nil, state, common.Address{}, authorization, domain, "USD Coin")
		if reason != test.reason || (err != nil) != test.err || (err != nil && !errors.Is(err, ErrChainRead)) {
			t.Errorf("%s: checkChain = %q, %v; want %q, error %v", test.name, reason, err, test.reason, test.err)
		}
	}
}

// TestVerifyTokenWithoutCode: an asset address with no contract answers
// no read (not a wrong one): no verdict, failed_to_check_nonce first.
func TestVerifyTokenWithoutCode(t *testing.T) {
	w := newWorld(t)
	requirements := w.requirements()
	requirements.Asset = "0x00000000000000000000000000000000000000aa"
	a := w.authorize("no token")
	a.sign(t, w.alice.key, domain{name: "USD Coin", version: "2", chainID: simChainID, contract: common.HexToAddress(requirements.Asset)})
	request, err := ParseRequest(body(requirements, a.payload()))
	if err != nil {
		t.Fatal(err)
	}
	verification, err := w.verifier.Verify(context.Background(), request)
	if !errors.Is(err, ErrChainRead) || verification.Response.InvalidReason != ReasonFailedToCheckNonce {
		t.Fatalf("Verify of a token without code = %+v, %v; want %s and ErrChainRead", verification.Response, err, ReasonFailedToCheckNonce)
	}
}

func TestSettleCallDataOverloads(t *testing.T) {
	authorization := &Authorization{
		From: common.HexToAddress("0x01"), To: common.HexToAddress("0x02"), Value: big.NewInt(5),
		ValidAfter: big.NewInt(0), ValidBefore: big.NewInt(10), Nonce: common.HexToHash("0x03"),
	}
	tokenABI := tokenBinding().GetABI()
	for _, test := range []struct {
		signature []byte
		method    string
	}{
		{append(make([]byte, 64), 0), "transferWithAuthorization0"},
		{append(make([]byte, 64), 28), "transferWithAuthorization0"},
		{[]byte{1, 2, 3}, "transferWithAuthorization"},
	} {
		authorization.Signature = test.signature
		data := SettleCallData(authorization)
		method, err := tokenABI.MethodById(data[:4])
		if err != nil || method.Name != test.method {
			t.Fatalf("SettleCallData(%d-byte signature) calls %v (%v), want %s", len(test.signature), method, err, test.method)
		}
		arguments, err := method.Inputs.Unpack(data[4:])
		if err != nil {
			t.Fatal(err)
		}
		if len(test.signature) == 65 {
			if v := arguments[6].(uint8); v != 27+test.signature[64]%27 {
				t.Fatalf("v = %d for signature v %d, want %d", v, test.signature[64], 27+test.signature[64]%27)
			}
		} else if got := arguments[6].([]byte); string(got) != string(test.signature) {
			t.Fatalf("signature argument %x, want %x", got, test.signature)
		}
	}
}

// recordingChain answers eth_getCode with code and isValidSignature with
// the magic value, keeping the call's data.
type recordingChain struct {
	ChainReader
	data *[]byte
}

func (c recordingChain) CodeAt(context.Context, common.Address, *big.Int) ([]byte, error) {
	return []byte{0x00}, nil
}

func (c recordingChain) CallContract(ctx context.Context, call ethereum.CallMsg, block *big.Int) ([]byte, error) {
	if string(call.Data[:4]) == string(erc1271MagicValue) {
		*c.data = call.Data
		return common.RightPadBytes(erc1271MagicValue, 32), nil
	}
	return c.ChainReader.CallContract(ctx, call, block)
}

// TestERC1271CallEncoding: the isValidSignature call is ABI-encoded as
// isValidSignature(bytes32 digest, bytes signature), whatever the length.
func TestERC1271CallEncoding(t *testing.T) {
	method, err := abi.JSON(strings.NewReader(`[{"type":"function","name":"isValidSignature","inputs":[{"name":"hash","type":"bytes32"},{"name":"signature","type":"bytes"}],"outputs":[{"type":"bytes4"}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	digest := common.HexToHash("0xabcdef")
	for _, length := range []int{0, 1, 31, 32, 33, 65, 200} {
		signature := make([]byte, length)
		for i := range signature {
			signature[i] = byte(i + 1)
		}
		var data []byte
		authorization := &Authorization{From: common.HexToAddress("0x1271"), Signature: signature}
		if message, valid := checkERC1271(context.Background(), recordingChain{data: &data}, authorization, digest); !valid {
			t.Fatalf("checkERC1271 refused: %s", message)
		}
		want, err := method.Pack("isValidSignature", [32]byte(digest), signature)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, want) {
			t.Fatalf("isValidSignature call for a %d-byte signature:\n%x\nwant\n%x", length, data, want)
		}
	}
}

func TestVerifySettleMarginIsConfigurable(t *testing.T) {
	w := newWorld(t)
	verifier, err := NewVerifier(Config{
		Networks:     []Network{{ID: "eip155:1337", ChainID: simChainID, Chain: w.client}},
		SettleMargin: 30 * time.Second,
		Now:          func() time.Time { return w.now },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, test := range []struct {
		left   int64
		reason string
	}{{29, ReasonValidBeforeExpired}, {30, ""}} {
		authorization := w.authorize("margin")
		authorization.validBefore = big.NewInt(w.now.Unix() + test.left)
		authorization.sign(t, w.alice.key, w.usdcDomain())
		request, err := ParseRequest(body(w.requirements(), authorization.payload()))
		if err != nil {
			t.Fatal(err)
		}
		verification, err := verifier.Verify(context.Background(), request)
		if err != nil || verification.Response.InvalidReason != test.reason {
			t.Fatalf("Verify(%d s left, margin 30 s) = %+v, %v; want reason %q", test.left, verification.Response, err, test.reason)
		}
	}
}

func TestNewVerifierRefusesBadNetworks(t *testing.T) {
	w := newWorld(t)
	for _, networks := range [][]Network{
		{{ID: "eip155:1", ChainID: simChainID, Chain: w.client}},
		{{ID: "eip155:1337", ChainID: simChainID}},
		{{ID: "eip155:1337", Chain: w.client}},
		{{ID: "eip155:1337", ChainID: simChainID, Chain: w.client}, {ID: "eip155:1337", ChainID: simChainID, Chain: w.client}},
		{{ID: "eip155:1337", V1Name: "local", ChainID: simChainID, Chain: w.client}, {ID: "eip155:1", V1Name: "local", ChainID: big.NewInt(1), Chain: w.client}},
	} {
		if _, err := NewVerifier(Config{Networks: networks}); err == nil {
			t.Fatalf("NewVerifier(%+v) accepted", networks)
		}
	}
	if _, err := w.verifier.Verify(context.Background(), &Request{}); err == nil {
		t.Fatalf("Verify(an empty Request) = nil error")
	}
}

// TestVerifySimulates: paying the zero address passes every rule but the
// token refuses it (ERC20InvalidReceiver); only the simulation sees it.
func TestVerifySimulates(t *testing.T) {
	w := newWorld(t)
	requirements := w.requirements()
	requirements.PayTo = common.Address{}.Hex()
	authorization := w.authorize("to nobody")
	authorization.to = common.Address{}
	authorization.sign(t, w.alice.key, w.usdcDomain())
	requestBody := body(requirements, authorization.payload())
	if got := w.verify(requestBody).Response; !got.IsValid {
		t.Fatalf("Verify without simulation = %+v, want valid (the test proves nothing)", got)
	}
	for _, test := range []struct {
		payload []byte
		reason  string
	}{
		{requestBody, ReasonEIP3009SimulationFailed},
		{body(w.requirements(), w.authorize("simulated").payload()), ""},
	} {
		verifier, err := NewVerifier(Config{
			Networks: []Network{{ID: "eip155:1337", ChainID: simChainID, Chain: w.client}},
			Now:      w.verifier.now, Simulate: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		request, err := ParseRequest(test.payload)
		if err != nil {
			t.Fatal(err)
		}
		verification, err := verifier.Verify(context.Background(), request)
		if err != nil || verification.Response.InvalidReason != test.reason || verification.Response.IsValid != (test.reason == "") {
			t.Fatalf("Verify with simulation = %+v, %v; want reason %q", verification.Response, err, test.reason)
		}
	}
}
