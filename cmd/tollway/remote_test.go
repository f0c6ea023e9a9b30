package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/tollway/tollway/chain/devchain"
)

const (
	testPool = "0x00000000000000000000000000000000000000aa"
	testUSDC = "0x00000000000000000000000000000000000000bb"
)

// TestChainRPCFlagsNeedEachOther: --chain-rpc needs its companions, which
// need it; it conflicts with --chain; bad values are refused naming the
// flag or variable, and a URL's credentials are never quoted.
func TestChainRPCFlagsNeedEachOther(t *testing.T) {
	node := []string{"--chain-rpc", "http://127.0.0.1:8545"}
	complete := append(append([]string(nil), node...), "--chain-id", "1337", "--pool-address", testPool, "--usdc-address", testUSDC,
		"--relayer-key-file", "relayer.key")
	const see = " (see 'tollway help serve')"
	for _, c := range []struct {
		env    []string // name, value pairs
		args   []string
		stderr string
	}{
		{nil, node, "--chain-rpc needs --chain-id (TOLLWAY_CHAIN_ID), --pool-address (TOLLWAY_POOL_ADDRESS), " +
			"--usdc-address (TOLLWAY_USDC_ADDRESS), --relayer-key-file (TOLLWAY_RELAYER_KEY_FILE)"},
		{nil, complete[:6], "--chain-rpc needs --usdc-address (TOLLWAY_USDC_ADDRESS), --relayer-key-file (TOLLWAY_RELAYER_KEY_FILE)"},
		{nil, append([]string{"--chain", "none"}, complete...), "--chain none and --chain-rpc conflict: --chain-rpc settles on its node instead of the embedded chain"},
		{[]string{"TOLLWAY_CHAIN", "embedded"}, complete, "--chain embedded and --chain-rpc conflict: --chain-rpc settles on its node instead of the embedded chain"},
		{nil, []string{"--pool-address", testPool}, "--pool-address is for a node: it needs --chain-rpc (TOLLWAY_CHAIN_RPC)"},
		{nil, []string{"--chain-confirmations", "2"}, "--chain-confirmations is for a node: it needs --chain-rpc (TOLLWAY_CHAIN_RPC)"},
		{nil, []string{"--x402-batcher-address", testPool}, "--x402-batcher-address is for a node: it needs --chain-rpc (TOLLWAY_CHAIN_RPC)"},
		{[]string{"TOLLWAY_RELAYER_KEY_FILE", "k"}, nil, "--relayer-key-file is for a node: it needs --chain-rpc (TOLLWAY_CHAIN_RPC)"},
		{nil, []string{"--chain-rpc", "ftp://node"}, "--chain-rpc: want an http(s):// or ws(s):// URL with a host"},
		{[]string{"TOLLWAY_CHAIN_RPC", "https://user:hunter2@"}, nil, "TOLLWAY_CHAIN_RPC: want an http(s):// or ws(s):// URL with a host"},
		{nil, []string{"--pool-address", "0x1234"}, `invalid value "0x1234" for flag -pool-address: want a 0x-prefixed 20-byte hex address`},
		{nil, []string{"--chain-id", "0"}, `invalid value "0" for flag -chain-id: want a positive integer`},
		{nil, []string{"--chain-confirmations", "10001"}, `invalid value "10001" for flag -chain-confirmations: want 0-10000`},
	} {
		t.Run(strings.Join(append(append([]string(nil), c.env...), c.args...), " "), func(t *testing.T) {
			for i := 0; i < len(c.env); i += 2 {
				t.Setenv(c.env[i], c.env[i+1])
			}
			code, stdout, stderr := runCLI(t, append([]string{"serve"}, c.args...)...)
			if want := "tollway serve: " + c.stderr + see + "\n"; code != 2 || stdout != "" || stderr != want {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 2 and %q", code, stdout, stderr, want)
			}
		})
	}

	c, err := parseServe(append(complete, "--chain-confirmations", "0"))
	if err != nil {
		t.Fatal(err)
	}
	want := remoteChainConfig{rpc: "http://127.0.0.1:8545", chainID: 1337, pool: common.HexToAddress(testPool),
		usdc: common.HexToAddress(testUSDC), relayerKeyFile: "relayer.key", confirmations: 0, confirmationSet: true}
	if c.chain != chainRemote || c.remote != want {
		t.Fatalf("parseServe(%q) = %q %+v, want %q %+v", complete, c.chain, c.remote, chainRemote, want)
	}
	if c, err = parseServe(complete); err != nil || c.remote.confirmations != remoteConfirmationsDefault {
		t.Fatalf("parseServe(%q) = %d confirmations, %v; want the default %d", complete, c.remote.confirmations, err, remoteConfirmationsDefault)
	}
	if c, err = parseServe(nil); err != nil || c.chain != chainEmbedded {
		t.Fatalf("parseServe() = chain %q, %v; want embedded", c.chain, err)
	}
}

// TestChainRPCFailuresExit1: a node that does not answer, or a relayer key
// file that is missing, stops serve at its start: exit 1, one line naming
// the cause, and no key file created.
func TestChainRPCFailuresExit1(t *testing.T) {
	dir := t.TempDir()
	missing, present := filepath.Join(dir, "missing.key"), filepath.Join(dir, "relayer.key")
	if _, err := devchain.LoadOrCreateKey(present, true); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		keyFile, stderr string
	}{
		{missing, "tollway: --chain-rpc: chain: the relayer key: devchain: read the key " + missing + ": open " + missing + ": no such file or directory\n"},
		{present, "tollway: --chain-rpc: chain: http://127.0.0.1:1 does not answer eth_chainId: "},
	} {
		code, stdout, stderr := runCLI(t, "serve", "--data", t.TempDir(), "--listen", "127.0.0.1:0", "--log-level", "error",
			"--chain-rpc", "http://127.0.0.1:1", "--chain-id", "1337", "--pool-address", testPool, "--usdc-address", testUSDC, "--relayer-key-file", c.keyFile)
		if code != 1 || stdout != "" || !strings.HasPrefix(stderr, c.stderr) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("serve --relayer-key-file %s = exit %d, stdout %q, stderr %q; want 1 and one line %q…", c.keyFile, code, stdout, stderr, c.stderr)
		}
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("serve created the missing relayer key file (%v): a new key holds no role", err)
	}
}

// TestChainDeployCommandLine: `tollway chain deploy` needs its node and
// both key files, refuses bad values with exit 2, fails with exit 1 on a
// missing deployer key (which it never creates), and lists its flags.
func TestChainDeployCommandLine(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "deployer.key")
	const see = " (see 'tollway help chain')\n"
	for _, c := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"chain"}, 2, "tollway chain: want a subcommand: deploy" + see},
		{[]string{"chain", "bogus"}, 2, `tollway chain: unknown subcommand "bogus": want deploy` + see},
		{[]string{"chain", "deploy"}, 2, "tollway chain: deploy needs --chain-rpc (TOLLWAY_CHAIN_RPC), --deployer-key-file (TOLLWAY_DEPLOYER_KEY_FILE), " +
			"--relayer-key-file (TOLLWAY_RELAYER_KEY_FILE)" + see},
		{[]string{"chain", "deploy", "--withdrawal-delay-seconds", "2592001"}, 2,
			`tollway chain: invalid value "2592001" for flag -withdrawal-delay-seconds: want 1-2592000 (30 days)` + see},
		{[]string{"chain", "deploy", "--chain-rpc", "http://127.0.0.1:1", "--deployer-key-file", missing, "--relayer-key-file", "r.key"}, 1,
			"tollway: the deployer key: devchain: read the key " + missing + ": open " + missing + ": no such file or directory\n"},
	} {
		code, stdout, stderr := runCLI(t, c.args...)
		if code != c.code || stdout != "" || stderr != c.stderr {
			t.Errorf("tollway %q = exit %d, stdout %q, stderr %q; want %d and %q", c.args, code, stdout, stderr, c.code, c.stderr)
		}
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("chain deploy created the missing deployer key file (%v): a new key has no ETH", err)
	}
	code, stdout, stderr := runCLI(t, "help", "chain")
	if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "usage: tollway chain deploy [flags]\n") || !strings.Contains(stdout, "  --deployer-key-file string\n") {
		t.Fatalf("tollway help chain = exit %d, stdout %q, stderr %q; want 0 and deploy's flags", code, stdout, stderr)
	}
}
