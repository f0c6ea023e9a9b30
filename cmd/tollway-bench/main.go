// Command tollway-bench is Tollway's load benchmark, apart from the server
// binary so that `tollway serve` links none of its code (the Redis and
// PostgreSQL clients, the plotting library, the no-op server):
//
//	tollway-bench [--scenarios …] [--connections …] [--baselines …] [--out DIR] [--tollway PATH] …
//	tollway-bench noop-server [--listen ADDR]
//	tollway-bench noop-upstream [--listen ADDR]
//
// `tollway bench ARGS` runs `tollway-bench --tollway <itself> ARGS` when
// tollway-bench sits beside it (or is on PATH); see bench/doc.go.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// drainTimeout bounds how long the no-op server's shutdown waits for
// requests in flight, as `tollway serve`'s does.
const drainTimeout = 15 * time.Second

// Exit statuses, as the go command's: 0 also for --help (the flag package
// printed the usage), 1 for a failure at run time, 2 for a bad command line.
func main() {
	err := run(os.Args[1:])
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "tollway-bench:", err)
		os.Exit(2)
	}
	fmt.Fprintln(os.Stderr, "tollway-bench:", err)
	os.Exit(1)
}

// usageError is a bad command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func run(args []string) error {
	if len(args) > 0 && args[0] == "noop-server" {
		return noopServer(args[1:])
	}
	if len(args) > 0 && args[0] == "noop-upstream" {
		return noopUpstream(args[1:])
	}
	return benchCommand(args)
}

// envOr returns the environment variable's value, or fallback.
func envOr(name, fallback string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return fallback
}

// findTollway returns the tollway executable the bench starts as its
// server: the one beside this executable, else the one on PATH.
func findTollway() (string, error) {
	if self, err := os.Executable(); err == nil {
		beside := filepath.Join(filepath.Dir(self), "tollway")
		if info, err := os.Stat(beside); err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0 {
			return beside, nil
		}
	}
	path, err := exec.LookPath("tollway")
	if err != nil {
		return "", errors.New("no tollway executable beside tollway-bench or on PATH: " +
			"build it (go build -o bin/tollway ./cmd/tollway) or name it with --tollway")
	}
	return path, nil
}
