package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/signal"
	"syscall"

	"github.com/tollway/tollway/httpapi"
)

// noopServer runs the benchmark's no-op HTTP server (httpapi.Noop) until
// SIGINT or SIGTERM:
//
//	tollway noop-server [--listen ADDR]
//
// `tollway bench` starts it as its ceiling.
func noopServer(args []string, stdout io.Writer) error {
	flags := newFlagSet("noop-server")
	listen := flags.String("listen", "127.0.0.1:0", "address to listen on")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	noop := httpapi.NewNoop()
	// Standard output, for scripts: the address is known only now when the
	// port was 0.
	fmt.Fprintf(stdout, "tollway noop listening on http://%s\n", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- noop.Serve(ln) }()
	select {
	case err = <-served:
	case <-ctx.Done():
		drain, cancel := context.WithTimeout(context.Background(), drainTimeout)
		err = noop.Shutdown(drain)
		cancel()
	}
	return err
}
