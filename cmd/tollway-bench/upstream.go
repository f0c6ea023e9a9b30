package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os/signal"
	"syscall"

	"github.com/tollway/tollway/bench"
)

// noopUpstream runs the gateway scenarios' no-op upstream
// (bench.NewNoopUpstream: 200 and a small body to any request) until
// SIGINT or SIGTERM:
//
//	tollway-bench noop-upstream [--listen ADDR]
func noopUpstream(args []string) error {
	flags := flag.NewFlagSet("noop-upstream", flag.ContinueOnError)
	listen := flags.String("listen", "127.0.0.1:0", "address to listen on")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if flags.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q: noop-upstream takes flags only", flags.Arg(0))}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	server := bench.NewNoopUpstream()
	// Standard output, for scripts: the address is known only now when the
	// port was 0.
	fmt.Printf("tollway noop upstream listening on http://%s\n", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- server.Serve(ln) }()
	select {
	case err = <-served:
	case <-ctx.Done():
		drain, cancel := context.WithTimeout(context.Background(), drainTimeout)
		err = server.ShutdownWithContext(drain)
		cancel()
	}
	return err
}
