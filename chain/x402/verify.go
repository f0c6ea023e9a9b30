package x402

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// DefaultSettleMargin is how long an authorization must stay valid after
// verification for its settlement to be mined: the reference's 6 s
// ("buffer for block time").
const DefaultSettleMargin = 6 * time.Second

// ErrChainRead is wrapped by Verify's error when a read of the chain
// failed: the answer is then not a verdict on the payment.
var ErrChainRead = errors.New("x402: chain read failed")

// ChainReader is what verification reads of a chain: eth_call and
// eth_getCode at the latest block (an ethclient.Client, or the simulated
// backend's client).
type ChainReader interface {
	ethereum.ContractCaller
	CodeAt(ctx context.Context, account common.Address, blockNumber *big.Int) ([]byte, error)
}

// Network is a chain the facilitator serves.
type Network struct {
	ID      string   // CAIP-2, "eip155:1337": v2 requests, and v1 too
	V1Name  string   // the v1 name, "tollway-local"; "" for none
	ChainID *big.Int // the id in ID, and the tokens' EIP-712 domain's
	Chain   ChainReader
}

// Config configures a Verifier.
type Config struct {
	Networks []Network
	// SettleMargin is the least time an authorization must stay valid
	// after now; zero means DefaultSettleMargin.
	SettleMargin time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Simulate makes verification end as the reference's does, with an
	// eth_call of the settlement itself, which catches what no rule here
	// checks (a paused token, a blocklisted or invalid recipient). Off,
	// verification costs four chain reads instead of five.
	Simulate bool
}

// Verifier verifies exact EVM payments. It holds no state beyond its
// configuration and the chain reads in flight, and is safe for concurrent
// use.
type Verifier struct {
	networks     []Network
	readers      map[string]*stateReader // by Network.ID
	settleMargin time.Duration
	now          func() time.Time
	simulate     bool
}

// NewVerifier checks the configuration and returns a Verifier.
func NewVerifier(config Config) (*Verifier, error) {
	seen := map[string]bool{}
	for _, network := range config.Networks {
		if network.ID == "" || network.ChainID == nil || network.Chain == nil {
			return nil, fmt.Errorf("x402: network %q needs an id, a chain id and a chain", network.ID)
		}
		if want := "eip155:" + network.ChainID.String(); network.ID != want {
			return nil, fmt.Errorf("x402: network %q has chain id %s, want id %q", network.ID, network.ChainID, want)
		}
		for _, name := range []string{network.ID, network.V1Name} {
			if name != "" && seen[name] {
				return nil, fmt.Errorf("x402: network name %q given twice", name)
			}
			seen[name] = true
		}
	}
	verifier := &Verifier{
		networks:     append([]Network(nil), config.Networks...),
		readers:      make(map[string]*stateReader, len(config.Networks)),
		settleMargin: config.SettleMargin,
		now:          config.Now,
		simulate:     config.Simulate,
	}
	if verifier.settleMargin <= 0 {
		verifier.settleMargin = DefaultSettleMargin
	}
	if verifier.now == nil {
		verifier.now = time.Now
	}
	for _, network := range verifier.networks {
		verifier.readers[network.ID] = &stateReader{chain: network.Chain}
	}
	return verifier, nil
}

// Payment is a request reduced to what verification needs, whichever
// version it came in.
type Payment struct {
	Version         int
	AcceptedScheme  string // the scheme the client paid with
	AcceptedNetwork string
	Scheme          string // the requirements'
	Network         string
	Amount          *big.Int
	Asset           string
	PayTo           string
	Extra           json.RawMessage
	Payload         json.RawMessage
}

// Payment reduces a parsed request; ParseRequest has checked the amount.
func (r *Request) Payment() Payment {
	if r.V1 != nil {
		requirements := &r.V1.PaymentRequirements
		amount, _ := ParseUint256(requirements.MaxAmountRequired)
		return Payment{
			Version: Version1, AcceptedScheme: r.V1.PaymentPayload.Scheme, AcceptedNetwork: r.V1.PaymentPayload.Network,
			Scheme: requirements.Scheme, Network: requirements.Network, Amount: amount,
			Asset: requirements.Asset, PayTo: requirements.PayTo, Extra: requirements.Extra,
			Payload: r.V1.PaymentPayload.Payload,
		}
	}
	requirements := &r.V2.PaymentRequirements
	amount, _ := ParseUint256(requirements.Amount)
	return Payment{
		Version: Version2, AcceptedScheme: r.V2.PaymentPayload.Accepted.Scheme, AcceptedNetwork: r.V2.PaymentPayload.Accepted.Network,
		Scheme: requirements.Scheme, Network: requirements.Network, Amount: amount,
		Asset: requirements.Asset, PayTo: requirements.PayTo, Extra: requirements.Extra,
		Payload: r.V2.PaymentPayload.Payload,
	}
}

// Verification is Verify's answer: the response for the wire and, for the
// engine (recording the nonce, reserving the balance) and the relayer, what
// was parsed. Authorization is nil when the payload did not parse; Network
// nil when the requirements named none served.
type Verification struct {
	Response      VerifyResponse
	Authorization *Authorization
	Token         common.Address
	Network       *Network
	// Balance is the payer's token balance read while verifying (nil when
	// verification stopped before): what a facilitator reserves
	// authorizations in flight against.
	Balance *big.Int
}

// Verify checks a payment by the reference's rules, in its order: scheme
// and network served, payload well formed, the accepted scheme and network
// the requirements', the EIP-712 domain given, the signature `from`'s, the
// recipient payTo, validAfter <= now and now + SettleMargin <= validBefore,
// value equal to amount; then on chain: the nonce unused, the token's
// domain the one signed, the balance enough; with Config.Simulate, the
// settlement itself by eth_call. The payer is `from` as soon as the
// payload parsed, whether or not the signature is its (as the
// reference's). A failed rule is a response with IsValid false and the
// rule's reason, not an error; the error is non-nil (wrapping
// ErrChainRead) only when the chain could not be read, and the response
// then carries the reference's reason for that read.
//
// REQUIRES: request came from ParseRequest.
func (v *Verifier) Verify(ctx context.Context, request *Request) (Verification, error) {
	if request == nil || (request.V1 == nil) == (request.V2 == nil) {
		return Verification{}, errors.New("x402: Verify needs a request from ParseRequest")
	}
	payment := request.Payment()
	var verification Verification
	invalid := func(reason string, message string) (Verification, error) {
		verification.Response.IsValid = false
		verification.Response.InvalidReason = reason
		verification.Response.InvalidMessage = message
		return verification, nil
	}
	if payment.Scheme != SchemeExact {
		return invalid(ReasonUnsupportedScheme, fmt.Sprintf("scheme %q is not supported", truncate(payment.Scheme)))
	}
	network := v.network(payment.Version, payment.Network)
	if network == nil {
		return invalid(ReasonInvalidNetwork, fmt.Sprintf("network %q is not supported", truncate(payment.Network)))
	}
	verification.Network = network
	token, err := parseAddress(payment.Asset)
	if err != nil {
		return invalid(ReasonInvalidRequirements, "asset: "+err.Error())
	}
	verification.Token = token
	payTo, err := parseAddress(payment.PayTo)
	if err != nil {
		return invalid(ReasonInvalidRequirements, "payTo: "+err.Error())
	}
	authorization, reason, err := parseExactEVMPayload(payment.Payload)
	if authorization != nil {
		verification.Response.Payer = authorization.From.Hex()
	}
	if err != nil {
		return invalid(reason, err.Error())
	}
	verification.Authorization = authorization
	if payment.AcceptedScheme != SchemeExact {
		return invalid(ReasonInvalidScheme, fmt.Sprintf("accepted scheme %q", truncate(payment.AcceptedScheme)))
	}
	name, version, ok := eip712Domain(payment.Extra)
	if !ok {
		return invalid(ReasonMissingEIP712Domain, "requirements.extra needs the token's EIP-712 name and version")
	}
	if v.network(payment.Version, payment.AcceptedNetwork) != network {
		return invalid(ReasonNetworkMismatch, fmt.Sprintf("accepted network %q, required %q", truncate(payment.AcceptedNetwork), payment.Network))
	}
	domain := DomainSeparator(name, version, network.ChainID, token)
	digest := TransferWithAuthorizationDigest(domain, authorization)
	// One read of the chain answers every on-chain rule below; it is
	// batched with other verifications' (stateReader), and the signature is
	// recovered while it is in flight.
	query := v.readers[network.ID].read(token, authorization.From, authorization.Nonce)
	recovered := recoverEOA(digest, authorization)
	state, err := query.wait(ctx)
	if err != nil {
		verification.Response.InvalidReason, verification.Response.InvalidMessage = ReasonFailedToVerifySignature, err.Error()
		return verification, fmt.Errorf("%w: %v", ErrChainRead, err)
	}
	if reason, message := checkSignature(ctx, network.Chain, state, authorization, digest, recovered); reason != "" {
		return invalid(reason, message)
	}
	if reason, message := v.checkAuthorization(authorization, payTo, payment.Amount); reason != "" {
		return invalid(reason, message)
	}
	if state.balanceRead {
		verification.Balance = state.balance
	}
	reason, message, err := checkChain(ctx, network.Chain, state, token, authorization, domain, name)
	if err != nil {
		verification.Response.InvalidReason, verification.Response.InvalidMessage = reason, message
		return verification, err
	} else if reason != "" {
		return invalid(reason, message)
	}
	if v.simulate {
		if message, ok := simulate(ctx, network.Chain, token, authorization); !ok {
			return invalid(ReasonEIP3009SimulationFailed, message)
		}
	}
	verification.Response.IsValid = true
	return verification, nil
}

// Identify returns what names a request's authorization, without
// verifying it: the network served that its requirements name, the token,
// and the parsed authorization. ok is false when any of them is missing or
// malformed (Verify then says why).
func (v *Verifier) Identify(request *Request) (network *Network, token common.Address, authorization *Authorization, ok bool) {
	if request == nil || (request.V1 == nil) == (request.V2 == nil) {
		return nil, common.Address{}, nil, false
	}
	payment := request.Payment()
	if network = v.network(payment.Version, payment.Network); network == nil {
		return nil, common.Address{}, nil, false
	}
	token, err := parseAddress(payment.Asset)
	if err != nil {
		return nil, common.Address{}, nil, false
	}
	authorization, _, err = parseExactEVMPayload(payment.Payload)
	if err != nil {
		return nil, common.Address{}, nil, false
	}
	return network, token, authorization, true
}

// network finds a served network by its CAIP-2 id or, for v1, its v1 name.
func (v *Verifier) network(version int, name string) *Network {
	for i := range v.networks {
		network := &v.networks[i]
		if name == network.ID || version == Version1 && network.V1Name != "" && name == network.V1Name {
			return network
		}
	}
	return nil
}

// checkAuthorization applies the rules that need no chain.
func (v *Verifier) checkAuthorization(authorization *Authorization, payTo common.Address, amount *big.Int) (reason, message string) {
	if authorization.To != payTo {
		return ReasonRecipientMismatch, fmt.Sprintf("authorization to %s, payTo %s", authorization.To.Hex(), payTo.Hex())
	}
	now := v.now().Unix()
	marginSeconds := int64((v.settleMargin + time.Second - 1) / time.Second)
	if authorization.ValidBefore.Cmp(big.NewInt(now+marginSeconds)) < 0 {
		return ReasonValidBeforeExpired, fmt.Sprintf("validBefore %s is before now (%d) + %d s to settle", authorization.ValidBefore, now, marginSeconds)
	}
	if authorization.ValidAfter.Cmp(big.NewInt(now)) > 0 {
		return ReasonValidAfterInFuture, fmt.Sprintf("validAfter %s is after now (%d)", authorization.ValidAfter, now)
	}
	if authorization.Value.Cmp(amount) != 0 {
		return ReasonAuthorizationValue, fmt.Sprintf("authorization value %s, amount %s", authorization.Value, amount)
	}
	return "", ""
}

// eip712Domain reads the token's EIP-712 name and version from the
// requirements' extra; both must be non-empty strings.
func eip712Domain(extra json.RawMessage) (name, version string, ok bool) {
	var domain struct {
		Name    any `json:"name"`
		Version any `json:"version"`
	}
	if len(extra) == 0 || json.Unmarshal(extra, &domain) != nil {
		return "", "", false
	}
	name, nameOK := domain.Name.(string)
	version, versionOK := domain.Version.(string)
	return name, version, nameOK && versionOK && name != "" && version != ""
}

// Typehashes of EIP-712 and EIP-3009.
var (
	domainTypehash                    = crypto.Keccak256Hash([]byte("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"))
	transferWithAuthorizationTypehash = crypto.Keccak256Hash([]byte("TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"))
)

// DomainSeparator is the EIP-712 domain separator of a token with this
// name and version at verifyingContract on chainID.
func DomainSeparator(name, version string, chainID *big.Int, verifyingContract common.Address) common.Hash {
	return crypto.Keccak256Hash(
		domainTypehash[:],
		crypto.Keccak256([]byte(name)),
		crypto.Keccak256([]byte(version)),
		common.LeftPadBytes(chainID.Bytes(), 32),
		common.LeftPadBytes(verifyingContract[:], 32),
	)
}

// TransferWithAuthorizationDigest is the EIP-712 digest `from` signs.
func TransferWithAuthorizationDigest(domainSeparator common.Hash, authorization *Authorization) common.Hash {
	structHash := crypto.Keccak256(
		transferWithAuthorizationTypehash[:],
		common.LeftPadBytes(authorization.From[:], 32),
		common.LeftPadBytes(authorization.To[:], 32),
		common.LeftPadBytes(authorization.Value.Bytes(), 32),
		common.LeftPadBytes(authorization.ValidAfter.Bytes(), 32),
		common.LeftPadBytes(authorization.ValidBefore.Bytes(), 32),
		authorization.Nonce[:],
	)
	return crypto.Keccak256Hash([]byte{0x19, 0x01}, domainSeparator[:], structHash)
}

// erc6492MagicSuffix ends a signature wrapped for an undeployed wallet.
var erc6492MagicSuffix = common.FromHex("0x6492649264926492649264926492649264926492649264926492649264926492")

// recovery is the signer recovered from an EOA-shaped signature (65
// bytes, no ERC-6492 wrapping); ok is false for any other.
type recovery struct {
	signer common.Address
	err    error
	ok     bool
}

// recoverEOA recovers the signer when the signature is an EOA's shape,
// before the chain has said whether `from` is a contract.
func recoverEOA(digest common.Hash, authorization *Authorization) recovery {
	if len(authorization.Signature) != 65 || bytes.HasSuffix(authorization.Signature, erc6492MagicSuffix) {
		return recovery{}
	}
	signer, err := RecoverSigner(digest, authorization.Signature)
	return recovery{signer: signer, err: err, ok: true}
}

// checkSignature checks the signature as the token will (OpenZeppelin
// SignatureChecker): ERC-1271 when `from` has code, else ecrecover.
func checkSignature(ctx context.Context, chain ChainReader, state chainState, authorization *Authorization, digest common.Hash, recovered recovery) (reason, message string) {
	if state.hasCode {
		if message, valid := checkERC1271(ctx, chain, authorization, digest); !valid {
			return ReasonInvalidSignature, message
		}
		return "", ""
	}
	if !recovered.ok {
		// The reference's reading: not an EOA's signature, and no wallet
		// deployed at `from` to check it.
		return ReasonUndeployedSmartWallet, fmt.Sprintf("a %d-byte signature and no contract at %s", len(authorization.Signature), authorization.From.Hex())
	}
	if recovered.err != nil {
		return ReasonInvalidSignature, recovered.err.Error()
	}
	if recovered.signer != authorization.From {
		return ReasonInvalidSignature, fmt.Sprintf("signed by %s, not from %s", recovered.signer.Hex(), authorization.From.Hex())
	}
	return "", ""
}

// secp256k1HalfN is the largest s the token accepts (EIP-2).
var secp256k1HalfN = new(big.Int).Rsh(crypto.S256().Params().N, 1)

// RecoverSigner recovers the address that signed digest with a 65-byte
// r‖s‖v signature, v 0/1 or 27/28, refusing what the token refuses: s in
// the upper half of the curve order, r or s zero or out of range.
func RecoverSigner(digest common.Hash, signature []byte) (common.Address, error) {
	if len(signature) != 65 {
		return common.Address{}, fmt.Errorf("signature of %d bytes, want 65", len(signature))
	}
	v := signature[64]
	if v >= 27 {
		v -= 27
	}
	if v > 1 {
		return common.Address{}, fmt.Errorf("signature v %d, want 0, 1, 27 or 28", signature[64])
	}
	r, s := new(big.Int).SetBytes(signature[:32]), new(big.Int).SetBytes(signature[32:64])
	if s.Cmp(secp256k1HalfN) > 0 {
		return common.Address{}, errors.New("signature s in the upper half of the curve order")
	}
	if !crypto.ValidateSignatureValues(v, r, s, true) {
		return common.Address{}, errors.New("signature r or s out of range")
	}
	normalized := make([]byte, 65)
	copy(normalized, signature[:64])
	normalized[64] = v
	publicKey, err := crypto.SigToPub(digest[:], normalized)
	if err != nil {
		return common.Address{}, fmt.Errorf("recover: %v", err)
	}
	return crypto.PubkeyToAddress(*publicKey), nil
}
