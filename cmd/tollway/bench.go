package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
)

// benchBinary is the load benchmark's executable. It is a binary of its
// own (cmd/tollway-bench) so that the server links none of the benchmark:
// its Redis and PostgreSQL clients, its plotting, its no-op server.
const benchBinary = "tollway-bench"

// benchCommand runs `tollway bench ARGS` as `tollway-bench --tollway
// <this executable> ARGS`, tollway-bench being the one beside this
// executable or else the one on PATH; without one it says how to build it.
func benchCommand(args []string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: find this executable: %w", err)
	}
	return runBench(self, args)
}

// runBench runs tollway-bench for the tollway executable self.
func runBench(self string, args []string) error {
	helper, err := findBenchBinary(filepath.Dir(self))
	if err != nil {
		return err
	}
	command := exec.Command(helper, append([]string{"--tollway", self}, args...)...)
	command.Stdin, command.Stdout, command.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Ctrl-C reaches the whole foreground process group; a signal sent to
	// this process alone is passed on. Either way tollway-bench stops what
	// it started and exits, and this process waits for it.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	if err := command.Start(); err != nil {
		return fmt.Errorf("bench: run %s: %w", helper, err)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case s := <-signals:
				_ = command.Process.Signal(s) // it may have exited already
			case <-done:
				return
			}
		}
	}()
	if err := command.Wait(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() > 0 {
			// tollway-bench said why on standard error; its status is ours
			// (0 for --help, 2 for a bad command line).
			return exitStatus(exit.ExitCode())
		}
		return fmt.Errorf("bench: run %s: %w", helper, err)
	}
	return nil
}

// exitStatus is a command's exit status when it has already said why (a
// program it ran and whose status it passes on).
type exitStatus int

func (s exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(s)) }

// findBenchBinary returns tollway-bench in dir, else on PATH.
func findBenchBinary(dir string) (string, error) {
	beside := filepath.Join(dir, benchBinary)
	if info, err := os.Stat(beside); err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0 {
		return beside, nil
	}
	if path, err := exec.LookPath(benchBinary); err == nil {
		return path, nil
	}
	return "", fmt.Errorf("bench: the load benchmark is a binary of its own, %s, so that the server links none of it, "+
		"and there is none beside %s or on PATH: build it with `go build -o %s ./cmd/tollway-bench` "+
		"(or `make bench-tool`), then run `tollway bench` again", benchBinary, dir, filepath.Join(dir, benchBinary))
}
