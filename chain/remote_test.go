package chain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/tollway/tollway/chain/devchain"
)

// TestRemoteOpensADeploymentMadeByDeploy: Deploy, from a funded key over
// JSON-RPC as on any node (here the embedded chain's endpoint), makes a
// deployment OpenRemote accepts, and OpenRemote reads its terms back
// exactly: the fee recipient and the delay chosen, the relayer's key.
func TestRemoteOpensADeploymentMadeByDeploy(t *testing.T) {
	ctx := context.Background()
	l := openLocal(t, t.TempDir())
	defer l.Close()
	client, err := ethclient.Dial(l.Chain.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	keyFile := filepath.Join(t.TempDir(), "relayer.key")
	relayer, err := devchain.LoadOrCreateKey(keyFile, true)
	if err != nil {
		t.Fatal(err)
	}
	feeRecipient := crypto.PubkeyToAddress(mustGenerateKey(t).PublicKey)
	deployer := NewTransactor(client, l.Chain.FunderKey(), l.Chain.ChainID())
	terms := DeployTerms{Relayer: crypto.PubkeyToAddress(relayer.PublicKey), FeeRecipient: feeRecipient, WithdrawalDelay: 2 * time.Hour}
	deployment, err := Deploy(ctx, deployer, terms)
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	if deployment.FeeRecipient != feeRecipient || deployment.USDC == (common.Address{}) || deployment.Pool == (common.Address{}) ||
		deployment.X402Batcher == (common.Address{}) {
		t.Fatalf("Deploy = %+v, want the fee recipient %s and three contracts", deployment, feeRecipient)
	}

	r, err := OpenRemote(ctx, RemoteConfig{URL: l.Chain.URL(), ChainID: devchain.ChainID, Pool: deployment.Pool, USDC: deployment.USDC,
		RelayerKeyFile: keyFile, Confirmations: 3, X402Batcher: deployment.X402Batcher, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("OpenRemote: %v", err)
	}
	defer r.Close()
	s := r.Settlement()
	if s.ChainID.Int64() != devchain.ChainID || s.Pool != deployment.Pool || s.USDC != deployment.USDC || s.FeeRecipient != feeRecipient ||
		s.RelayerAddress() != terms.Relayer || s.WithdrawalDelay != 2*time.Hour || s.Confirmations != 3 || s.RPCURL != l.Chain.URL() ||
		s.X402Batcher != deployment.X402Batcher {
		t.Fatalf("Settlement() = %+v, want chain %d, %+v, relayer %s, delay 2h, 3 confirmations, RPC URL %s",
			s, devchain.ChainID, deployment, terms.Relayer, l.Chain.URL())
	}
	if head, err := s.Client.BlockNumber(ctx); err != nil || head == 0 {
		t.Fatalf("Settlement().Client.BlockNumber() = %d, %v: want the node's head", head, err)
	}
}

// TestRemoteRefusesEachMisconfiguration: OpenRemote names what is wrong —
// the chain, a missing contract, a pool of another token, a contract that
// is not a pool, a relayer without the role, a missing key file (which it
// does not create) — and connects to the embedded chain's own deployment,
// whose terms it reads as Local reports them.
func TestRemoteRefusesEachMisconfiguration(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLocal(t, dir)
	defer l.Close()
	relayerKey, walletKey := filepath.Join(dir, "relayer.key"), filepath.Join(dir, "test-wallet.key")
	missingKey := filepath.Join(t.TempDir(), "missing.key")
	stranger := crypto.PubkeyToAddress(mustGenerateKey(t).PublicKey)
	good := RemoteConfig{URL: l.Chain.URL(), ChainID: devchain.ChainID, Pool: l.Pool, USDC: l.USDC, RelayerKeyFile: relayerKey,
		Logger: slog.New(slog.DiscardHandler)}

	r, err := OpenRemote(ctx, good)
	if err != nil {
		t.Fatalf("OpenRemote(the local deployment) = %v", err)
	}
	got, want := r.Settlement(), l.Settlement()
	got.Client, want.Client = nil, nil
	if got.ChainID.Cmp(want.ChainID) != 0 || got.Pool != want.Pool || got.USDC != want.USDC || got.FeeRecipient != want.FeeRecipient ||
		got.RelayerAddress() != want.RelayerAddress() || got.WithdrawalDelay != want.WithdrawalDelay || got.RPCURL != want.RPCURL {
		t.Fatalf("OpenRemote(the local deployment).Settlement() = %+v, want %+v", got, want)
	}
	if got.X402Signer != nil {
		t.Fatalf("OpenRemote without an x402 signer key file settles x402 with %v", got.X402Signer)
	}
	r.Close()
	signing := good
	signing.X402SignerKeyFile = filepath.Join(dir, "x402-signer.key")
	if r, err = OpenRemote(ctx, signing); err != nil {
		t.Fatalf("OpenRemote with the x402 signer key file = %v", err)
	}
	if got := r.Settlement().X402Signer; got == nil || !got.Equal(l.X402Signer) {
		t.Fatalf("OpenRemote(x402 signer key file).Settlement().X402Signer = %v, want the key in %s", got, signing.X402SignerKeyFile)
	}
	r.Close()

	for _, test := range []struct {
		name     string
		change   func(*RemoteConfig)
		mismatch bool   // wraps ErrRemoteMismatch
		text     string // in the error
	}{
		{"another chain", func(c *RemoteConfig) { c.ChainID = 1 }, true, "is on chain 1337, not 1"},
		{"no pool", func(c *RemoteConfig) { c.Pool = stranger }, true, "no contract at the pool address " + stranger.Hex()},
		{"no USDC", func(c *RemoteConfig) { c.USDC = stranger }, true, "no contract at the USDC address " + stranger.Hex()},
		{"no x402 batcher", func(c *RemoteConfig) { c.X402Batcher = stranger }, true, "no contract at the x402 batcher address " + stranger.Hex()},
		{"another token", func(c *RemoteConfig) { c.USDC = l.Pool }, true, "the pool " + l.Pool.Hex() + " holds USDC " + l.USDC.Hex() + ", not " + l.Pool.Hex()},
		{"not a pool", func(c *RemoteConfig) { c.Pool = l.USDC }, true, "does not answer usdc() (is it the pool?)"},
		{"relayer without the role", func(c *RemoteConfig) { c.RelayerKeyFile = walletKey }, true,
			"the relayer " + l.TestWalletAddress().Hex() + " lacks the pool's RELAYER_ROLE"},
		{"missing key file", func(c *RemoteConfig) { c.RelayerKeyFile = missingKey }, false, "the relayer key"},
		{"missing x402 signer key file", func(c *RemoteConfig) { c.X402SignerKeyFile = missingKey }, false, "the x402 signer key"},
		{"the relayer's key as the x402 signer's", func(c *RemoteConfig) { c.X402SignerKeyFile = relayerKey }, true,
			"the x402 signer key is the relayer's"},
		{"no node", func(c *RemoteConfig) { c.URL = "http://127.0.0.1:1" }, false, "does not answer eth_chainId"},
		{"no URL", func(c *RemoteConfig) { c.URL = "" }, false, "no JSON-RPC URL"},
	} {
		config := good
		test.change(&config)
		r, err := OpenRemote(ctx, config)
		if err == nil {
			r.Close()
			t.Errorf("%s: OpenRemote = nil error, want %q", test.name, test.text)
			continue
		}
		if errors.Is(err, ErrRemoteMismatch) != test.mismatch || !strings.Contains(err.Error(), test.text) {
			t.Errorf("%s: OpenRemote = %v, want %q (ErrRemoteMismatch: %v)", test.name, err, test.text, test.mismatch)
		}
	}
	if _, err := OpenRemote(ctx, RemoteConfig{URL: good.URL, ChainID: devchain.ChainID, Pool: l.Pool, USDC: l.USDC,
		RelayerKeyFile: missingKey}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenRemote with a missing key file = %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(missingKey); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenRemote created the missing key file (%v): a new key holds no role", err)
	}
}

func TestRemoteURLIsPublishedWithoutCredentials(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8545":             "http://127.0.0.1:8545",
		"https://user:secret@node.test/rpc": "https://node.test/rpc",
		"wss://token@node.test:8546/ws?x=1": "wss://node.test:8546/ws?x=1",
		"http://[::1]:8545":                 "http://[::1]:8545",
		"http://bad host:8545/%zz":          "(an unparsable URL)",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func mustGenerateKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return key
}
