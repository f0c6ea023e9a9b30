// Command tollway runs the Tollway settlement engine.
//
//	tollway serve [--data DIR] [--fee-bps N]
//
// cmd/ owns configuration: flags, environment variables and signals are read
// here and nowhere else.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/tollway/tollway/engine"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "tollway:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: tollway serve [flags]")
	}
	switch args[0] {
	case "serve":
		return serve(args[1:])
	}
	return fmt.Errorf("unknown command %q (want: serve)", args[0])
}

// envOr returns the environment variable's value, or fallback.
func envOr(name, fallback string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return fallback
}

func serve(args []string) error {
	flags := flag.NewFlagSet("serve", flag.ContinueOnError)
	data := flags.String("data", envOr("TOLLWAY_DATA", "./data"), "data directory (TOLLWAY_DATA)")
	feeBps := flags.String("fee-bps", envOr("TOLLWAY_FEE_BPS", "0"), "platform fee in basis points (TOLLWAY_FEE_BPS)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	fee, err := strconv.ParseUint(*feeBps, 10, 32)
	if err != nil {
		return fmt.Errorf("--fee-bps: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	eng, err := engine.Open(engine.Options{Dir: *data, FeeBps: uint32(fee), Logger: logger})
	if err != nil {
		return err
	}
	rec := eng.Recovered()
	logger.Info("tollway engine ready", "data", *data, "position", eng.Position(),
		"replayed", rec.Replayed, "recovery", rec.Duration)
	logger.Info("the HTTP API is not built yet (issue 4); the engine is embeddable now: see README")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	logger.Info("shutting down")
	return eng.Close()
}
