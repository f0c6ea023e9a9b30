package x402

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"

	"github.com/tollway/tollway/chain/contracts"
)

// simChainID is the simulated backend's, fixed by go-ethereum.
var simChainID = big.NewInt(1337)

// walletAddress is where the test ERC-1271 wallet's code is placed in the
// genesis, so its approved digest (which names it as `from`) can be
// computed before the chain exists.
var walletAddress = common.HexToAddress("0x0000000000000000000000000000000000001271")

// testAmount is the price in the tests' requirements: 0.01 USDC.
const testAmount = 10_000

type party struct {
	key     *ecdsa.PrivateKey
	address common.Address
	opts    *bind.TransactOpts
}

func newParty(t testing.TB) party {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	return party{key: key, address: crypto.PubkeyToAddress(key.PublicKey), opts: bind.NewKeyedTransactor(key, simChainID)}
}

// world is a simulated chain with the real TestUSDC deployed: alice holds
// 1 USDC, carol none; payee is the resource server's payTo; relayer sends
// settlements; the ERC-1271 wallet at walletAddress holds 1 USDC and
// approves the one digest walletDigest.
type world struct {
	t        testing.TB
	sim      *simulated.Backend
	client   simulated.Client
	admin    party
	relayer  party
	alice    party
	bob      party
	carol    party
	payee    party
	usdc     common.Address
	token    *bind.BoundContract
	now      time.Time
	verifier *Verifier
	// walletAuthorization is the authorization the wallet approves.
	walletAuthorization *Authorization
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{t: t}
	w.admin, w.relayer, w.alice, w.bob, w.carol, w.payee = newParty(t), newParty(t), newParty(t), newParty(t), newParty(t), newParty(t)
	ether := new(big.Int).Exp(big.NewInt(10), big.NewInt(21), nil)
	alloc := types.GenesisAlloc{}
	for _, p := range []party{w.admin, w.relayer, w.alice, w.bob, w.carol, w.payee} {
		alloc[p.address] = types.Account{Balance: ether}
	}
	// The token is the admin's first contract: its address is known now,
	// and with it the digest the wallet approves.
	w.usdc = crypto.CreateAddress(w.admin.address, 0)
	w.walletAuthorization = &Authorization{
		From: walletAddress, To: w.payee.address, Value: big.NewInt(testAmount),
		ValidAfter: big.NewInt(0), ValidBefore: math.MaxBig256, Nonce: common.HexToHash("0x1271"),
		Signature: []byte{0xde, 0xad, 0xbe, 0xef},
	}
	walletDigest := TransferWithAuthorizationDigest(DomainSeparator("USD Coin", "2", simChainID, w.usdc), w.walletAuthorization)
	alloc[walletAddress] = types.Account{Code: erc1271WalletCode(walletDigest), Balance: big.NewInt(0)}

	w.sim = simulated.NewBackend(alloc)
	t.Cleanup(func() { w.sim.Close() })
	w.client = w.sim.Client()
	binding := contracts.NewTestUSDC()
	address, tx, err := bind.DeployContract(w.admin.opts, common.FromHex(contracts.TestUSDCMetaData.Bin), w.client, binding.PackConstructor(w.admin.address))
	if err != nil {
		t.Fatalf("deploy TestUSDC: %v", err)
	}
	if address != w.usdc {
		t.Fatalf("TestUSDC at %s, want %s", address.Hex(), w.usdc.Hex())
	}
	w.sim.Commit()
	w.mustSucceed(tx)
	w.token = binding.Instance(w.client, w.usdc)
	w.send(w.admin, binding.PackMint(w.alice.address, big.NewInt(1_000_000)))
	w.send(w.admin, binding.PackMint(walletAddress, big.NewInt(1_000_000)))

	header, err := w.client.HeaderByNumber(context.Background(), nil)
	if err != nil {
		t.Fatalf("HeaderByNumber: %v", err)
	}
	w.now = time.Unix(int64(header.Time), 0)
	w.verifier, err = NewVerifier(Config{
		Networks: []Network{{ID: "eip155:1337", V1Name: "tollway-local", ChainID: simChainID, Chain: w.client}},
		Now:      func() time.Time { return w.now },
	})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return w
}

// erc1271WalletCode is the runtime code of a wallet that answers any call
// whose first argument is approved with the ERC-1271 magic value and
// reverts otherwise (the selector is not checked: the token only calls
// isValidSignature). Hand assembled, there being no solc here:
//
//	PUSH1 4 CALLDATALOAD PUSH32 approved EQ PUSH1 ok JUMPI
//	PUSH1 0 PUSH1 0 REVERT
//	ok: JUMPDEST PUSH32 0x1626ba7e<<224 PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN
func erc1271WalletCode(approved common.Hash) []byte {
	code := []byte{0x60, 0x04, 0x35, 0x7f}
	code = append(code, approved[:]...)
	code = append(code, 0x14, 0x60, 0x2d, 0x57, 0x60, 0x00, 0x60, 0x00, 0xfd, 0x5b, 0x7f)
	code = append(code, common.RightPadBytes(erc1271MagicValue, 32)...)
	code = append(code, 0x60, 0x00, 0x52, 0x60, 0x20, 0x60, 0x00, 0xf3)
	if code[0x2d] != 0x5b {
		panic("erc1271WalletCode: the jump target is not the JUMPDEST")
	}
	return code
}

func (w *world) mustSucceed(tx *types.Transaction) *types.Receipt {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	receipt, err := bind.WaitMined(ctx, w.client, tx.Hash())
	if err != nil {
		w.t.Fatalf("WaitMined(%s): %v", tx.Hash(), err)
	}
	if receipt.Status != types.ReceiptStatusSuccessful {
		w.t.Fatalf("transaction %s failed", tx.Hash())
	}
	return receipt
}

// send sends data to the token from `from`, mines it and requires success.
func (w *world) send(from party, data []byte) {
	w.t.Helper()
	tx, err := bind.Transact(w.token, from.opts, data)
	if err != nil {
		w.t.Fatalf("transaction from %s: %v", from.address.Hex(), err)
	}
	w.sim.Commit()
	w.mustSucceed(tx)
}

func (w *world) balance(account common.Address) *big.Int {
	w.t.Helper()
	binding := contracts.NewTestUSDC()
	result, err := w.token.CallRaw(&bind.CallOpts{}, binding.PackBalanceOf(account))
	if err != nil {
		w.t.Fatalf("balanceOf(%s): %v", account.Hex(), err)
	}
	balance, err := binding.UnpackBalanceOf(result)
	if err != nil {
		w.t.Fatalf("UnpackBalanceOf: %v", err)
	}
	return balance
}

// domain is the EIP-712 domain a client signs with.
type domain struct {
	name, version string
	chainID       *big.Int
	contract      common.Address
}

func (w *world) usdcDomain() domain {
	return domain{name: "USD Coin", version: "2", chainID: simChainID, contract: w.usdc}
}

// signed is an authorization as a client sends it.
type signed struct {
	from, to                       common.Address
	value, validAfter, validBefore *big.Int
	nonce                          common.Hash
	signature                      []byte
}

// authorize is alice's valid payment of testAmount to payee, signed over
// the token's domain; tests change a field and re-sign with sign.
func (w *world) authorize(nonce string) signed {
	a := signed{
		from: w.alice.address, to: w.payee.address, value: big.NewInt(testAmount),
		validAfter: big.NewInt(w.now.Unix() - 60), validBefore: big.NewInt(w.now.Unix() + 3600),
		nonce: crypto.Keccak256Hash([]byte(nonce)),
	}
	a.sign(w.t, w.alice.key, w.usdcDomain())
	return a
}

// sign signs the authorization with key over d, computing the digest with
// go-ethereum's EIP-712 encoder (apitypes), independently of the package's
// own; the signature's v is 27/28 as wallets produce it.
func (a *signed) sign(t testing.TB, key *ecdsa.PrivateKey, d domain) {
	t.Helper()
	typed := apitypes.TypedData{
		Types: apitypes.Types{
			"EIP712Domain": {
				{Name: "name", Type: "string"}, {Name: "version", Type: "string"},
				{Name: "chainId", Type: "uint256"}, {Name: "verifyingContract", Type: "address"},
			},
			"TransferWithAuthorization": {
				{Name: "from", Type: "address"}, {Name: "to", Type: "address"}, {Name: "value", Type: "uint256"},
				{Name: "validAfter", Type: "uint256"}, {Name: "validBefore", Type: "uint256"}, {Name: "nonce", Type: "bytes32"},
			},
		},
		PrimaryType: "TransferWithAuthorization",
		Domain: apitypes.TypedDataDomain{
			Name: d.name, Version: d.version, ChainId: (*math.HexOrDecimal256)(d.chainID), VerifyingContract: d.contract.Hex(),
		},
		Message: apitypes.TypedDataMessage{
			"from": a.from.Hex(), "to": a.to.Hex(), "value": a.value.String(),
			"validAfter": a.validAfter.String(), "validBefore": a.validBefore.String(), "nonce": a.nonce.Hex(),
		},
	}
	digest, _, err := apitypes.TypedDataAndHash(typed)
	if err != nil {
		t.Fatalf("TypedDataAndHash: %v", err)
	}
	signature, err := crypto.Sign(digest, key)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	signature[64] += 27
	a.signature = signature
}

func (a signed) payload() json.RawMessage {
	payload, err := json.Marshal(ExactEVMPayload{
		Signature: hexutil.Encode(a.signature),
		Authorization: ExactEVMAuthorization{
			From: a.from.Hex(), To: a.to.Hex(), Value: a.value.String(),
			ValidAfter: a.validAfter.String(), ValidBefore: a.validBefore.String(), Nonce: a.nonce.Hex(),
		},
	})
	if err != nil {
		panic(err)
	}
	return payload
}

// requirements are the resource server's: testAmount of the token to payee.
func (w *world) requirements() PaymentRequirements {
	return PaymentRequirements{
		Scheme: "exact", Network: "eip155:1337", Amount: fmt.Sprint(testAmount), Asset: w.usdc.Hex(),
		PayTo: w.payee.address.Hex(), MaxTimeoutSeconds: 60, Extra: json.RawMessage(`{"name":"USD Coin","version":"2"}`),
	}
}

// body is a v2 verify request carrying payload, accepting requirements.
func body(requirements PaymentRequirements, payload json.RawMessage) []byte {
	request := VerifyRequest{
		X402Version: 2,
		PaymentPayload: PaymentPayload{
			X402Version: 2, Resource: &ResourceInfo{URL: "http://127.0.0.1/paid"},
			Accepted: requirements, Payload: payload,
		},
		PaymentRequirements: requirements,
	}
	encoded, err := json.Marshal(request)
	if err != nil {
		panic(err)
	}
	return encoded
}

// verify parses and verifies a body, requiring both to succeed as calls.
func (w *world) verify(requestBody []byte) Verification {
	w.t.Helper()
	request, err := ParseRequest(requestBody)
	if err != nil {
		w.t.Fatalf("ParseRequest(%s): %v", requestBody, err)
	}
	verification, err := w.verifier.Verify(context.Background(), request)
	if err != nil {
		w.t.Fatalf("Verify: %v", err)
	}
	return verification
}

// settle sends the settlement call data for the verified authorization
// from the relayer and mines it; it returns the receipt's status.
func (w *world) settle(authorization *Authorization) uint64 {
	w.t.Helper()
	opts := *w.relayer.opts
	opts.GasLimit = 500_000 // no estimation, which would refuse a reverting call
	tx, err := bind.Transact(w.token, &opts, SettleCallData(authorization))
	if err != nil {
		w.t.Fatalf("send settlement: %v", err)
	}
	w.sim.Commit()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	receipt, err := bind.WaitMined(ctx, w.client, tx.Hash())
	if err != nil {
		w.t.Fatalf("WaitMined: %v", err)
	}
	return receipt.Status
}
