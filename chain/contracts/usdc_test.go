package contracts

import (
	"crypto/ecdsa"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"
)

// The EIP-712 domain of Circle's USDC, which wallets and x402 clients sign
// for; the test token must have the same so their signatures verify.
const (
	domainName    = "USD Coin"
	domainVersion = "2"
)

var eip712DomainType = []apitypes.Type{
	{Name: "name", Type: "string"},
	{Name: "version", Type: "string"},
	{Name: "chainId", Type: "uint256"},
	{Name: "verifyingContract", Type: "address"},
}

var authorizationType = []apitypes.Type{
	{Name: "from", Type: "address"},
	{Name: "to", Type: "address"},
	{Name: "value", Type: "uint256"},
	{Name: "validAfter", Type: "uint256"},
	{Name: "validBefore", Type: "uint256"},
	{Name: "nonce", Type: "bytes32"},
}

// authorization is an EIP-3009 transfer or receive authorization.
type authorization struct {
	from, to                       common.Address
	value, validAfter, validBefore int64
	nonce                          common.Hash
}

// signTyped signs typed data as a wallet does (eth_signTypedData_v4) and
// returns the 65-byte signature with v = 27 or 28.
func (w *world) signTyped(key *ecdsa.PrivateKey, primaryType string, fields []apitypes.Type, message apitypes.TypedDataMessage) []byte {
	w.t.Helper()
	typed := apitypes.TypedData{
		Types:       apitypes.Types{"EIP712Domain": eip712DomainType, primaryType: fields},
		PrimaryType: primaryType,
		Domain: apitypes.TypedDataDomain{
			Name:              domainName,
			Version:           domainVersion,
			ChainId:           math.NewHexOrDecimal256(chainID.Int64()),
			VerifyingContract: w.usdc.Address().Hex(),
		},
		Message: message,
	}
	digest, _, err := apitypes.TypedDataAndHash(typed)
	if err != nil {
		w.t.Fatalf("TypedDataAndHash: %v", err)
	}
	signature, err := crypto.Sign(digest, key)
	if err != nil {
		w.t.Fatalf("Sign: %v", err)
	}
	signature[64] += 27
	return signature
}

func (w *world) signAuthorization(key *ecdsa.PrivateKey, primaryType string, a authorization) []byte {
	return w.signTyped(key, primaryType, authorizationType, apitypes.TypedDataMessage{
		"from":        a.from.Hex(),
		"to":          a.to.Hex(),
		"value":       big.NewInt(a.value),
		"validAfter":  big.NewInt(a.validAfter),
		"validBefore": big.NewInt(a.validBefore),
		"nonce":       a.nonce.Hex(),
	})
}

// splitSignature is (v, r, s) of a 65-byte signature.
func splitSignature(signature []byte) (uint8, [32]byte, [32]byte) {
	var r, s [32]byte
	copy(r[:], signature[:32])
	copy(s[:], signature[32:64])
	return signature[64], r, s
}

// highS is the same signature's other valid form (s' = n - s, v flipped),
// which EIP-2 forbids and OpenZeppelin's ECDSA refuses.
func highS(signature []byte) []byte {
	out := make([]byte, 65)
	copy(out, signature[:32])
	s := new(big.Int).SetBytes(signature[32:64])
	s.Sub(crypto.S256().Params().N, s)
	s.FillBytes(out[32:64])
	out[64] = 27 + 28 - signature[64]
	return out
}

func (w *world) packTransfer(a authorization, signature []byte) []byte {
	v, r, s := splitSignature(signature)
	return w.usdcBinding.PackTransferWithAuthorization0(a.from, a.to, big.NewInt(a.value),
		big.NewInt(a.validAfter), big.NewInt(a.validBefore), a.nonce, v, r, s)
}

func (w *world) authorizationUsed(authorizer common.Address, nonce common.Hash) bool {
	w.t.Helper()
	used, err := bind.Call(w.usdc, nil, w.usdcBinding.PackAuthorizationState(authorizer, nonce), w.usdcBinding.UnpackAuthorizationState)
	if err != nil {
		w.t.Fatalf("authorizationState: %v", err)
	}
	return used
}

func randomNonce(t *testing.T) common.Hash {
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	return crypto.Keccak256Hash(crypto.FromECDSA(key))
}

func TestTokenLooksLikeUSDCToSigners(t *testing.T) {
	w := newWorld(t)
	name, err := bind.Call(w.usdc, nil, w.usdcBinding.PackName(), w.usdcBinding.UnpackName)
	if err != nil || name != "USD Coin" {
		t.Fatalf("name() = %q, %v", name, err)
	}
	symbol, err := bind.Call(w.usdc, nil, w.usdcBinding.PackSymbol(), w.usdcBinding.UnpackSymbol)
	if err != nil || symbol != "USDC" {
		t.Fatalf("symbol() = %q, %v", symbol, err)
	}
	decimals, err := bind.Call(w.usdc, nil, w.usdcBinding.PackDecimals(), w.usdcBinding.UnpackDecimals)
	if err != nil || decimals != 6 {
		t.Fatalf("decimals() = %d, %v", decimals, err)
	}
	domain, err := bind.Call(w.usdc, nil, w.usdcBinding.PackEip712Domain(), w.usdcBinding.UnpackEip712Domain)
	if err != nil || domain.Name != domainName || domain.Version != domainVersion || domain.ChainId.Cmp(chainID) != 0 || domain.VerifyingContract != w.usdc.Address() {
		t.Fatalf("eip712Domain() = %+v, %v", domain, err)
	}
	// The domain separator by hand, as in EIP-712.
	domainTypeHash := crypto.Keccak256([]byte("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"))
	want := crypto.Keccak256Hash(domainTypeHash, crypto.Keccak256([]byte(domainName)), crypto.Keccak256([]byte(domainVersion)),
		common.LeftPadBytes(chainID.Bytes(), 32), common.LeftPadBytes(w.usdc.Address().Bytes(), 32))
	separator, err := bind.Call(w.usdc, nil, w.usdcBinding.PackDOMAINSEPARATOR(), w.usdcBinding.UnpackDOMAINSEPARATOR)
	if err != nil || separator != want {
		t.Fatalf("DOMAIN_SEPARATOR() = %x, %v; want %x", separator, err, want)
	}
	// FiatToken's type hashes, byte for byte.
	typeHashes := []struct {
		pack   func() []byte
		unpack func([]byte) ([32]byte, error)
		spec   string
	}{
		{w.usdcBinding.PackTRANSFERWITHAUTHORIZATIONTYPEHASH, w.usdcBinding.UnpackTRANSFERWITHAUTHORIZATIONTYPEHASH,
			"TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"},
		{w.usdcBinding.PackRECEIVEWITHAUTHORIZATIONTYPEHASH, w.usdcBinding.UnpackRECEIVEWITHAUTHORIZATIONTYPEHASH,
			"ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"},
		{w.usdcBinding.PackCANCELAUTHORIZATIONTYPEHASH, w.usdcBinding.UnpackCANCELAUTHORIZATIONTYPEHASH,
			"CancelAuthorization(address authorizer,bytes32 nonce)"},
	}
	for _, th := range typeHashes {
		got, err := bind.Call(w.usdc, nil, th.pack(), th.unpack)
		if err != nil || common.Hash(got) != crypto.Keccak256Hash([]byte(th.spec)) {
			t.Fatalf("type hash of %s = %x, %v", th.spec, got, err)
		}
	}
	w.mustRevert(w.alice, w.usdc, w.usdcABI, w.usdcBinding.PackMint(w.alice.address, big.NewInt(1)), "OwnableUnauthorizedAccount")
}

func TestTransferWithAuthorizationPaysOnceWithinItsWindow(t *testing.T) {
	w := newWorld(t)
	w.mint(w.alice.address, 1_000_000)
	now := int64(w.blockTime())
	a := authorization{from: w.alice.address, to: w.supplier.address, value: 250_000,
		validAfter: 0, validBefore: now + 3600, nonce: randomNonce(t)}
	signature := w.signAuthorization(w.alice.key, "TransferWithAuthorization", a)

	// Bob is the facilitator: anyone may submit a transfer authorization.
	receipt := w.mustSend(w.bob, w.usdc, w.packTransfer(a, signature))
	w.requireBalance("alice's USDC", w.usdcBalance(w.alice.address), 750_000)
	w.requireBalance("supplier's USDC", w.usdcBalance(w.supplier.address), 250_000)
	if !w.authorizationUsed(a.from, a.nonce) {
		t.Fatalf("authorizationState = false after use")
	}
	used := 0
	for _, log := range receipt.Logs {
		if event, err := w.usdcBinding.UnpackAuthorizationUsedEvent(log); err == nil {
			if event.Authorizer != a.from || event.Nonce != a.nonce {
				t.Fatalf("AuthorizationUsed = %+v, want %s %s", event, a.from, a.nonce)
			}
			used++
		}
	}
	if used != 1 {
		t.Fatalf("%d AuthorizationUsed events, want 1", used)
	}

	// Replay, through either overload.
	w.mustRevert(w.bob, w.usdc, w.usdcABI, w.packTransfer(a, signature), "AuthorizationAlreadyUsed")
	w.mustRevert(w.bob, w.usdc, w.usdcABI, w.usdcBinding.PackTransferWithAuthorization(a.from, a.to, big.NewInt(a.value),
		big.NewInt(a.validAfter), big.NewInt(a.validBefore), a.nonce, signature), "AuthorizationAlreadyUsed")

	// The bytes overload, with a fresh nonce.
	b := a
	b.nonce = randomNonce(t)
	w.mustSend(w.bob, w.usdc, w.usdcBinding.PackTransferWithAuthorization(b.from, b.to, big.NewInt(b.value),
		big.NewInt(b.validAfter), big.NewInt(b.validBefore), b.nonce, w.signAuthorization(w.alice.key, "TransferWithAuthorization", b)))
	w.requireBalance("supplier's USDC", w.usdcBalance(w.supplier.address), 500_000)

	// Expired: the next block's time is past validBefore.
	expired := a
	expired.nonce, expired.validBefore = randomNonce(t), int64(w.blockTime())
	w.mustRevert(w.bob, w.usdc, w.usdcABI, w.packTransfer(expired, w.signAuthorization(w.alice.key, "TransferWithAuthorization", expired)), "AuthorizationExpired")

	// Not yet valid.
	early := a
	early.nonce, early.validAfter = randomNonce(t), int64(w.blockTime())+3600
	w.mustRevert(w.bob, w.usdc, w.usdcABI, w.packTransfer(early, w.signAuthorization(w.alice.key, "TransferWithAuthorization", early)), "AuthorizationNotYetValid")

	// Signed by someone else, or for other terms.
	forged := a
	forged.nonce = randomNonce(t)
	w.mustRevert(w.bob, w.usdc, w.usdcABI, w.packTransfer(forged, w.signAuthorization(w.bob.key, "TransferWithAuthorization", forged)), "InvalidSignature")
	altered := forged
	altered.value++
	w.mustRevert(w.bob, w.usdc, w.usdcABI, w.packTransfer(altered, w.signAuthorization(w.alice.key, "TransferWithAuthorization", forged)), "InvalidSignature")

	w.requireBalance("alice's USDC", w.usdcBalance(w.alice.address), 500_000)
	for _, n := range []common.Hash{expired.nonce, early.nonce, forged.nonce} {
		if w.authorizationUsed(a.from, n) {
			t.Fatalf("a refused authorization's nonce %s is marked used", n)
		}
	}
}

// High-s signatures are malleable copies of valid ones; both signature
// paths refuse them, while the low-s original of the same message passes.
func TestHighSSignaturesAreRefused(t *testing.T) {
	w := newWorld(t)
	w.mint(w.alice.address, 1_000)
	a := authorization{from: w.alice.address, to: w.supplier.address, value: 100,
		validBefore: int64(w.blockTime()) + 3600, nonce: randomNonce(t)}
	signature := w.signAuthorization(w.alice.key, "TransferWithAuthorization", a)
	malleable := highS(signature)
	// The high-s form does recover to alice: only the s check refuses it.
	digestOwner, err := crypto.SigToPub(w.authorizationDigest(a), append(malleable[:64:64], malleable[64]-27))
	if err != nil || crypto.PubkeyToAddress(*digestOwner) != w.alice.address {
		t.Fatalf("high-s signature recovers to %v, %v; want alice", digestOwner, err)
	}
	w.mustRevert(w.bob, w.usdc, w.usdcABI, w.packTransfer(a, malleable), "InvalidSignature")
	w.mustRevert(w.bob, w.usdc, w.usdcABI, w.usdcBinding.PackTransferWithAuthorization(a.from, a.to, big.NewInt(a.value),
		big.NewInt(a.validAfter), big.NewInt(a.validBefore), a.nonce, malleable), "InvalidSignature")
	w.mustSend(w.bob, w.usdc, w.packTransfer(a, signature))
	w.requireBalance("supplier's USDC", w.usdcBalance(w.supplier.address), 100)

	deadline := big.NewInt(int64(w.blockTime()) + 3600)
	permitSignature := w.signPermit(w.alice.key, w.alice.address, w.bob.address, 500, 0, deadline)
	v, r, s := splitSignature(highS(permitSignature))
	w.mustRevert(w.bob, w.usdc, w.usdcABI, w.usdcBinding.PackPermit0(w.alice.address, w.bob.address, big.NewInt(500), deadline, v, r, s), "InvalidSignature")
	v, r, s = splitSignature(permitSignature)
	w.mustSend(w.bob, w.usdc, w.usdcBinding.PackPermit0(w.alice.address, w.bob.address, big.NewInt(500), deadline, v, r, s))
}

// authorizationDigest is the EIP-712 digest by hand (no apitypes), which
// also checks that apitypes and the contract agree on the encoding.
func (w *world) authorizationDigest(a authorization) []byte {
	typeHash := crypto.Keccak256([]byte("TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"))
	structHash := crypto.Keccak256(typeHash, common.LeftPadBytes(a.from.Bytes(), 32), common.LeftPadBytes(a.to.Bytes(), 32),
		common.LeftPadBytes(big.NewInt(a.value).Bytes(), 32), common.LeftPadBytes(big.NewInt(a.validAfter).Bytes(), 32),
		common.LeftPadBytes(big.NewInt(a.validBefore).Bytes(), 32), a.nonce.Bytes())
	separator, err := bind.Call(w.usdc, nil, w.usdcBinding.PackDOMAINSEPARATOR(), w.usdcBinding.UnpackDOMAINSEPARATOR)
	if err != nil {
		w.t.Fatalf("DOMAIN_SEPARATOR: %v", err)
	}
	return crypto.Keccak256([]byte("\x19\x01"), separator[:], structHash)
}

func TestCancelAuthorizationBurnsTheNonce(t *testing.T) {
	w := newWorld(t)
	w.mint(w.alice.address, 1_000)
	a := authorization{from: w.alice.address, to: w.supplier.address, value: 100,
		validBefore: int64(w.blockTime()) + 3600, nonce: randomNonce(t)}
	transfer := w.packTransfer(a, w.signAuthorization(w.alice.key, "TransferWithAuthorization", a))
	cancelFields := []apitypes.Type{{Name: "authorizer", Type: "address"}, {Name: "nonce", Type: "bytes32"}}
	cancelMessage := apitypes.TypedDataMessage{"authorizer": a.from.Hex(), "nonce": a.nonce.Hex()}

	// Only the authorizer's signature cancels.
	v, r, s := splitSignature(w.signTyped(w.bob.key, "CancelAuthorization", cancelFields, cancelMessage))
	w.mustRevert(w.bob, w.usdc, w.usdcABI, w.usdcBinding.PackCancelAuthorization(a.from, a.nonce, v, r, s), "InvalidSignature")

	v, r, s = splitSignature(w.signTyped(w.alice.key, "CancelAuthorization", cancelFields, cancelMessage))
	receipt := w.mustSend(w.bob, w.usdc, w.usdcBinding.PackCancelAuthorization(a.from, a.nonce, v, r, s))
	canceled := 0
	for _, log := range receipt.Logs {
		if event, err := w.usdcBinding.UnpackAuthorizationCanceledEvent(log); err == nil && event.Authorizer == a.from && event.Nonce == a.nonce {
			canceled++
		}
	}
	if canceled != 1 {
		t.Fatalf("%d AuthorizationCanceled events, want 1", canceled)
	}
	if !w.authorizationUsed(a.from, a.nonce) {
		t.Fatalf("authorizationState = false after cancel")
	}
	w.mustRevert(w.bob, w.usdc, w.usdcABI, transfer, "AuthorizationAlreadyUsed")
	w.mustRevert(w.bob, w.usdc, w.usdcABI, w.usdcBinding.PackCancelAuthorization(a.from, a.nonce, v, r, s), "AuthorizationAlreadyUsed")
	w.requireBalance("alice's USDC", w.usdcBalance(w.alice.address), 1_000)
}

func TestReceiveWithAuthorizationOnlyByThePayee(t *testing.T) {
	w := newWorld(t)
	w.mint(w.alice.address, 1_000)
	a := authorization{from: w.alice.address, to: w.supplier.address, value: 300,
		validBefore: int64(w.blockTime()) + 3600, nonce: randomNonce(t)}
	v, r, s := splitSignature(w.signAuthorization(w.alice.key, "ReceiveWithAuthorization", a))
	receive := w.usdcBinding.PackReceiveWithAuthorization0(a.from, a.to, big.NewInt(a.value),
		big.NewInt(a.validAfter), big.NewInt(a.validBefore), a.nonce, v, r, s)

	w.mustRevert(w.bob, w.usdc, w.usdcABI, receive, "CallerMustBePayee")
	// A receive authorization is no transfer authorization (its type hash differs).
	tv, tr, ts := v, r, s
	w.mustRevert(w.bob, w.usdc, w.usdcABI, w.usdcBinding.PackTransferWithAuthorization0(a.from, a.to, big.NewInt(a.value),
		big.NewInt(a.validAfter), big.NewInt(a.validBefore), a.nonce, tv, tr, ts), "InvalidSignature")

	w.mustSend(w.supplier, w.usdc, receive)
	w.requireBalance("supplier's USDC", w.usdcBalance(w.supplier.address), 300)
	w.requireBalance("alice's USDC", w.usdcBalance(w.alice.address), 700)
	w.mustRevert(w.supplier, w.usdc, w.usdcABI, receive, "AuthorizationAlreadyUsed")
}

func (w *world) signPermit(key *ecdsa.PrivateKey, owner, spender common.Address, value, nonce int64, deadline *big.Int) []byte {
	return w.signTyped(key, "Permit", []apitypes.Type{
		{Name: "owner", Type: "address"},
		{Name: "spender", Type: "address"},
		{Name: "value", Type: "uint256"},
		{Name: "nonce", Type: "uint256"},
		{Name: "deadline", Type: "uint256"},
	}, apitypes.TypedDataMessage{
		"owner":    owner.Hex(),
		"spender":  spender.Hex(),
		"value":    big.NewInt(value),
		"nonce":    big.NewInt(nonce),
		"deadline": deadline,
	})
}

// A permit approves without a transaction from the owner: here the pool
// deposits on it, as a gasless wallet would.
func TestPermitThenTransferFrom(t *testing.T) {
	w := newWorld(t)
	w.mint(w.alice.address, 1_000)
	deadline := big.NewInt(int64(w.blockTime()) + 3600)
	signature := w.signPermit(w.alice.key, w.alice.address, w.bob.address, 600, 0, deadline)
	v, r, s := splitSignature(signature)
	permit := w.usdcBinding.PackPermit0(w.alice.address, w.bob.address, big.NewInt(600), deadline, v, r, s)
	w.mustSend(w.bob, w.usdc, permit)
	allowance, err := bind.Call(w.usdc, nil, w.usdcBinding.PackAllowance(w.alice.address, w.bob.address), w.usdcBinding.UnpackAllowance)
	if err != nil || allowance.Int64() != 600 {
		t.Fatalf("allowance = %v, %v; want 600", allowance, err)
	}
	nonce, err := bind.Call(w.usdc, nil, w.usdcBinding.PackNonces(w.alice.address), w.usdcBinding.UnpackNonces)
	if err != nil || nonce.Int64() != 1 {
		t.Fatalf("nonces = %v, %v; want 1", nonce, err)
	}
	w.mustSend(w.bob, w.usdc, w.usdcBinding.PackTransferFrom(w.alice.address, w.supplier.address, big.NewInt(600)))
	w.requireBalance("supplier's USDC", w.usdcBalance(w.supplier.address), 600)
	w.requireBalance("alice's USDC", w.usdcBalance(w.alice.address), 400)
	w.mustRevert(w.bob, w.usdc, w.usdcABI, w.usdcBinding.PackTransferFrom(w.alice.address, w.supplier.address, big.NewInt(1)), "ERC20InsufficientAllowance")

	// The used permit again: its nonce is gone, so it no longer verifies.
	w.mustRevert(w.bob, w.usdc, w.usdcABI, permit, "InvalidSignature")
	// Past its deadline.
	past := big.NewInt(int64(w.blockTime()) - 1)
	v, r, s = splitSignature(w.signPermit(w.alice.key, w.alice.address, w.bob.address, 1, 1, past))
	w.mustRevert(w.bob, w.usdc, w.usdcABI, w.usdcBinding.PackPermit0(w.alice.address, w.bob.address, big.NewInt(1), past, v, r, s), "ERC2612ExpiredSignature")
	// The bytes overload.
	w.mustSend(w.bob, w.usdc, w.usdcBinding.PackPermit(w.alice.address, w.bob.address, big.NewInt(400), deadline,
		w.signPermit(w.alice.key, w.alice.address, w.bob.address, 400, 1, deadline)))
	allowance, err = bind.Call(w.usdc, nil, w.usdcBinding.PackAllowance(w.alice.address, w.bob.address), w.usdcBinding.UnpackAllowance)
	if err != nil || allowance.Int64() != 400 {
		t.Fatalf("allowance = %v, %v; want 400", allowance, err)
	}
}
