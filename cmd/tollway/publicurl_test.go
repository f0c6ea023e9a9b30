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

// startServeChild runs `tollway serve` with args as a child process and
// returns the base URL it listens on; the child is killed at the test's end.
func startServeChild(t *testing.T, args ...string) string {
	t.Helper()
	child := exec.Command(os.Args[0], append([]string{"serve", "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--log-level", "warn"}, args...)...)
	child.Env = append(os.Environ(), beMain+"=1")
	var stderr strings.Builder
	child.Stderr = &stderr
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		child.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		child.Process.Kill()
		<-exited
	})
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "tollway listening on "); ok {
			go io.Copy(io.Discard, stdout)
			return rest
		}
	}
	t.Fatalf("the child did not start: %s", stderr.String())
	return ""
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
	message := challenge(startServeChild(t, "--public-url", "https://Pay.Example.com"))
	if !strings.HasPrefix(message, "pay.example.com wants you to sign in") || !strings.Contains(message, "\nURI: https://pay.example.com\n") {
		t.Fatalf("challenge with --public-url:\n%s\nwant the domain pay.example.com and the URI https://pay.example.com", message)
	}
	base := startServeChild(t)
	domain := strings.TrimPrefix(base, "http://")
	message = challenge(base)
	if !strings.HasPrefix(message, domain+" wants you to sign in") || !strings.Contains(message, "\nURI: "+base+"\n") {
		t.Fatalf("challenge without --public-url:\n%s\nwant the domain %s and the URI %s", message, domain, base)
	}
}
