package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tollway/tollway/bench/noop"
)

// noopServer runs the benchmark's no-op HTTP server (bench/noop) until
// SIGINT or SIGTERM:
//
//	tollway-bench noop-server [--listen ADDR] [--pprof ADDR]
//
// The bench starts it as its ceiling, from its own executable. --pprof
// (or TOLLWAY_NOOP_PPROF, which the bench's child inherits) serves
// net/http/pprof, so the ceiling can be profiled beside the server.
func noopServer(args []string) error {
	flags := flag.NewFlagSet("noop-server", flag.ContinueOnError)
	listen := flags.String("listen", "127.0.0.1:0", "address to listen on")
	pprofAddr := flags.String("pprof", os.Getenv("TOLLWAY_NOOP_PPROF"), "address for net/http/pprof, e.g. 127.0.0.1:6061; off when empty (TOLLWAY_NOOP_PPROF)")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if flags.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q: noop-server takes flags only", flags.Arg(0))}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *pprofAddr != "" {
		if err := servePprof(*pprofAddr); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	server, err := noop.New()
	if err != nil {
		ln.Close()
		return err
	}
	// Standard output, for scripts: the address is known only now when the
	// port was 0.
	fmt.Printf("tollway noop listening on http://%s\n", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- server.Serve(ln) }()
	select {
	case err = <-served:
	case <-ctx.Done():
		drain, cancel := context.WithTimeout(context.Background(), drainTimeout)
		err = server.Shutdown(drain)
		cancel()
	}
	return err
}

// servePprof serves net/http/pprof's CPU, allocation, block and trace
// profiles on addr, apart from the no-op server's own listener.
func servePprof(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() {
		server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		_ = server.Serve(ln) // the process ends with it
	}()
	return nil
}
