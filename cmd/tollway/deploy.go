package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/tollway/tollway/chain"
	"github.com/tollway/tollway/chain/devchain"
)

// deployTimeout bounds `tollway chain deploy`: two transactions and their
// receipts, minutes even on a slow test network.
const deployTimeout = 10 * time.Minute

// withdrawalDelaySecondsMax is the pool's WITHDRAWAL_DELAY_MAX, 30 days:
// the constructor refuses more.
const withdrawalDelaySecondsMax = 30 * 24 * 60 * 60

type deployConfig struct {
	rpc, deployerKeyFile, relayerKeyFile string
	feeRecipient                         common.Address
	withdrawalDelaySeconds               int64
}

// deployFlags defines the flags of `chain deploy`. --chain-rpc and
// --relayer-key-file are serve's, variables included, so that the
// variables that deploy also serve.
func deployFlags(c *deployConfig) envFlags {
	flags := newEnvFlags("chain deploy")
	flags.Var(&rpcURLFlag{stringFlag{&c.rpc}}, "chain-rpc", "JSON-RPC URL of the Ethereum node to deploy to")
	flags.Var(newStringFlag(&c.deployerKeyFile, ""), "deployer-key-file", "file holding the hex private key that deploys "+
		"and pays the gas: it owns the test USDC (mints) and administers the pool")
	flags.Var(newStringFlag(&c.relayerKeyFile, ""), "relayer-key-file", "file holding the relayer's hex private key, "+
		"granted the pool's RELAYER_ROLE; created when missing")
	flags.Var(&addressFlag{&c.feeRecipient}, "fee-recipient", "the pool's fee recipient; the deployer when empty")
	flags.Var(newIntFlag(&c.withdrawalDelaySeconds, int64(chain.LocalWithdrawalDelay/time.Second), 1, withdrawalDelaySecondsMax,
		fmt.Sprintf("want 1-%d (30 days)", withdrawalDelaySecondsMax)), "withdrawal-delay-seconds", "the pool's withdrawal delay")
	return flags
}

// chainCommand is `tollway chain deploy [flags]`, the one chain command.
func chainCommand(args []string, stdout io.Writer) error {
	var c deployConfig
	flags := deployFlags(&c)
	switch {
	case len(args) > 0 && args[0] == "deploy":
		return chainDeploy(flags, &c, args[1:], stdout)
	case len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help"):
		return helpRequest{flags.FlagSet}
	case len(args) > 0:
		return usageError{fmt.Errorf("unknown subcommand %q: want deploy", args[0])}
	}
	return usageError{errors.New("want a subcommand: deploy")}
}

// chainDeploy deploys the test USDC and the pool to --chain-rpc's node
// (chain.Deploy) and prints their addresses and the serve command line
// that uses them.
func chainDeploy(flags envFlags, c *deployConfig, args []string, stdout io.Writer) error {
	if err := flags.parse(args); err != nil {
		return err
	}
	var missing []string
	for _, f := range []struct {
		name string
		set  bool
	}{{"chain-rpc", c.rpc != ""}, {"deployer-key-file", c.deployerKeyFile != ""}, {"relayer-key-file", c.relayerKeyFile != ""}} {
		if !f.set {
			missing = append(missing, fmt.Sprintf("--%s (%s)", f.name, envName(f.name)))
		}
	}
	if len(missing) > 0 {
		return usageError{fmt.Errorf("deploy needs %s", strings.Join(missing, ", "))}
	}
	deployer, err := devchain.LoadOrCreateKey(c.deployerKeyFile, false)
	if err != nil {
		return fmt.Errorf("the deployer key: %w", err)
	}
	relayer, err := devchain.LoadOrCreateKey(c.relayerKeyFile, true)
	if err != nil {
		return fmt.Errorf("the relayer key: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, deployTimeout)
	defer cancel()
	client, err := ethclient.DialContext(ctx, c.rpc)
	if err != nil {
		return fmt.Errorf("--chain-rpc: %w", err)
	}
	defer client.Close()
	chainID, err := client.ChainID(ctx)
	if err != nil {
		return fmt.Errorf("--chain-rpc: eth_chainId: %w", err)
	}
	relayerAddress := crypto.PubkeyToAddress(relayer.PublicKey)
	deployment, err := chain.Deploy(ctx, chain.NewTransactor(client, deployer, chainID), chain.DeployTerms{
		Relayer: relayerAddress, FeeRecipient: c.feeRecipient, WithdrawalDelay: time.Duration(c.withdrawalDelaySeconds) * time.Second})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "USDC %s, pool %s, relayer %s, fee recipient %s, x402 batcher %s (chain id %v)\n", deployment.USDC.Hex(),
		deployment.Pool.Hex(), relayerAddress.Hex(), deployment.FeeRecipient.Hex(), deployment.X402Batcher.Hex(), chainID)
	if balance, err := client.BalanceAt(ctx, relayerAddress, nil); err == nil && balance.Sign() == 0 {
		fmt.Fprintf(stdout, "the relayer has no ETH: send it some for the gas of settlements\n")
	}
	fmt.Fprintf(stdout, "tollway serve --chain-rpc %s --chain-id %v --pool-address %s --usdc-address %s --relayer-key-file %s --x402-batcher-address %s\n",
		c.rpc, chainID, deployment.Pool.Hex(), deployment.USDC.Hex(), c.relayerKeyFile, deployment.X402Batcher.Hex())
	return nil
}
