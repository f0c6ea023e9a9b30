package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// servingChild is `tollway serve` run by a test as a child process.
type servingChild struct {
	cmd    *exec.Cmd
	addr   string // host:port it listens on
	stderr *strings.Builder
	exited chan struct{} // closed once err is set
	err    error         // of Wait
}

// startServeChild runs `tollway serve` on a new data directory with args
// (env added to its environment) as a child process, and returns once it
// listens; the child is killed at the test's end.
func startServeChild(t *testing.T, env []string, args ...string) *servingChild {
	t.Helper()
	c := &servingChild{stderr: &strings.Builder{}, exited: make(chan struct{})}
	c.cmd = exec.Command(os.Args[0], append([]string{"serve", "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--log-level", "warn",
		"--chain", "none"}, args...)...)
	c.cmd.Env = append(append(os.Environ(), beMain+"=1"), env...)
	c.cmd.Stderr = c.stderr
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.exited
	})
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "tollway listening on http://"); ok {
			go io.Copy(io.Discard, stdout)
			c.addr = rest
			return c
		}
	}
	<-c.exited
	t.Fatalf("the child did not start (%v): %s", c.err, c.stderr.String())
	return nil
}

// TestServeNamesThePublicURLInSIWEChallenges: the challenge named the
// listen address, which clients behind a proxy or DNS name never see;
// --public-url gives its domain (the URL's host) and URI (its origin).
func TestServeNamesThePublicURLInSIWEChallenges(t *testing.T) {
	challenge := func(base string) string {
		t.Helper()
		resp, err := http.Post(base+"/v1/auth/siwe/challenge", "application/json",
			strings.NewReader(`{"address":"0x71C7656EC7ab88b098defB751B7401B5f6d8976F"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v struct{ Message string }
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != 200 {
			t.Fatalf("challenge = %d, %v", resp.StatusCode, err)
		}
		return v.Message
	}
	message := challenge("http://" + startServeChild(t, nil, "--public-url", "https://Pay.Example.com").addr)
	if !strings.HasPrefix(message, "pay.example.com wants you to sign in") || !strings.Contains(message, "\nURI: https://pay.example.com\n") {
		t.Fatalf("challenge with --public-url:\n%s\nwant the domain pay.example.com and the URI https://pay.example.com", message)
	}
	base := "http://" + startServeChild(t, nil).addr
	domain := strings.TrimPrefix(base, "http://")
	message = challenge(base)
	if !strings.HasPrefix(message, domain+" wants you to sign in") || !strings.Contains(message, "\nURI: "+base+"\n") {
		t.Fatalf("challenge without --public-url:\n%s\nwant the domain %s and the URI %s", message, domain, base)
	}
}
