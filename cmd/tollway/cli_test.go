package main

import (
	"bytes"
	"flag"
	"net"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// runCLI runs the command line args in this process and returns its exit
// status, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// usageLines are the usage's command lines, one per command.
var usageLines = []string{
	"  serve        run the settlement engine and its HTTP API\n",
	"  bench        measure the HTTP API under load beside the machine's ceiling and baselines (runs tollway-bench)\n",
	"  version      print the version, Go version and VCS revision\n",
	"  help         print this usage, or a command's flags\n",
}

func TestUsageListsEveryCommandAndExits0(t *testing.T) {
	for _, args := range [][]string{nil, {"help"}, {"--help"}, {"-h"}, {"-help"}} {
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 || stderr != "" || !strings.Contains(stdout, "usage: tollway <command> [flags]\n") {
			t.Errorf("tollway %q = exit %d, stdout %q, stderr %q; want 0 and the usage on stdout", args, code, stdout, stderr)
		}
		for _, line := range usageLines {
			if !strings.Contains(stdout, line) {
				t.Errorf("tollway %q: the usage has no line %q:\n%s", args, line, stdout)
			}
		}
	}
}

func TestUnknownCommandExits2WithTheUsageOnStderr(t *testing.T) {
	code, stdout, stderr := runCLI(t, "bogus", "--listen", "x")
	if code != 2 || stdout != "" || !strings.HasPrefix(stderr, "tollway: unknown command \"bogus\"\n") ||
		!strings.Contains(stderr, usageLines[0]) {
		t.Fatalf("tollway bogus = exit %d, stdout %q, stderr %q; want 2 and the usage on stderr", code, stdout, stderr)
	}
}

func TestCommandHelpPrintsItsFlagsAndExits0(t *testing.T) {
	for _, c := range []struct {
		args  []string
		first string // stdout's first line
		flags []string
	}{
		{[]string{"help", "serve"}, "usage: tollway serve [flags]", []string{"--fee-bps int", "--public-url url", "--metrics-public\n"}},
		{[]string{"serve", "--help"}, "usage: tollway serve [flags]", []string{"--fee-bps int"}},
		{[]string{"serve", "-h"}, "usage: tollway serve [flags]", []string{"--fee-bps int"}},
		{[]string{"help", "version"}, "usage: tollway version", nil},
		{[]string{"help", "help"}, "usage: tollway help [command]", nil},
	} {
		code, stdout, stderr := runCLI(t, c.args...)
		if code != 0 || stderr != "" || !strings.HasPrefix(stdout, c.first+"\n") {
			t.Errorf("tollway %q = exit %d, stdout %q, stderr %q; want 0 and %q first", c.args, code, stdout, stderr, c.first)
			continue
		}
		for _, f := range c.flags {
			if !strings.Contains(stdout, "  "+f) {
				t.Errorf("tollway %q: no %q in\n%s", c.args, f, stdout)
			}
		}
	}
	// Every flag of serve names its variable in the help.
	_, stdout, _ := runCLI(t, "help", "serve")
	serveFlags(new(serveConfig)).VisitAll(func(f *flag.Flag) {
		if !strings.Contains(stdout, "  --"+f.Name) || !strings.Contains(stdout, "("+envName(f.Name)+")") {
			t.Errorf("serve's help has no --%s with (%s)", f.Name, envName(f.Name))
		}
	})
}

// TestBadCommandLinesExit2 checks the one line naming the flag, or the
// variable the bad value came from, and that nothing is started.
func TestBadCommandLinesExit2(t *testing.T) {
	for _, c := range []struct {
		env    []string // name, value pairs
		args   []string
		stderr string
	}{
		{nil, []string{"serve", "--fee-bps", "abc"}, `tollway serve: invalid value "abc" for flag -fee-bps: want 0-10000 (see 'tollway help serve')`},
		{nil, []string{"serve", "--fee-bps", "10001"}, `tollway serve: invalid value "10001" for flag -fee-bps: want 0-10000 (see 'tollway help serve')`},
		{[]string{"TOLLWAY_FEE_BPS", "abc"}, []string{"serve"}, `tollway serve: TOLLWAY_FEE_BPS="abc": want 0-10000 (see 'tollway help serve')`},
		{[]string{"TOLLWAY_MAX_CONNS", "-1"}, []string{"serve"}, `tollway serve: TOLLWAY_MAX_CONNS="-1": want a count, 0 for the default (see 'tollway help serve')`},
		{[]string{"TOLLWAY_METRICS_PUBLIC", "maybe"}, []string{"serve"}, `tollway serve: TOLLWAY_METRICS_PUBLIC="maybe": want true or false (see 'tollway help serve')`},
		{[]string{"TOLLWAY_RECOVER_TRUNCATED_LOG", "yes"}, []string{"serve"}, `tollway serve: TOLLWAY_RECOVER_TRUNCATED_LOG="yes": want true or false (see 'tollway help serve')`},
		{[]string{"TOLLWAY_LOG_LEVEL", "loud"}, []string{"serve"}, `tollway serve: TOLLWAY_LOG_LEVEL="loud": want debug, info, warn or error (see 'tollway help serve')`},
		{nil, []string{"serve", "--log-level", "loud"}, `tollway serve: invalid value "loud" for flag -log-level: want debug, info, warn or error (see 'tollway help serve')`},
		{nil, []string{"serve", "--x402-settle", "later"}, `tollway serve: invalid value "later" for flag -x402-settle: want payment or batch (see 'tollway help serve')`},
		{[]string{"TOLLWAY_X402_BATCH_WINDOW", "2h"}, []string{"serve"}, `tollway serve: TOLLWAY_X402_BATCH_WINDOW="2h": want a duration from 50ms to 1m0s, such as 10s (see 'tollway help serve')`},
		{nil, []string{"serve", "--public-url", "ftp://pay.example.com"}, `tollway serve: invalid value "ftp://pay.example.com" for flag -public-url: want http(s)://host[:port] (see 'tollway help serve')`},
		{[]string{"TOLLWAY_PUBLIC_URL", "https://pay.example.com/api"}, []string{"serve"}, `tollway serve: TOLLWAY_PUBLIC_URL="https://pay.example.com/api": want http(s)://host[:port] (see 'tollway help serve')`},
		// Secrets: the length, never the value.
		{nil, []string{"serve", "--admin-token", "hunter2"}, `tollway serve: --admin-token: 7 bytes: want at least 32, or none to have one generated (see 'tollway help serve')`},
		{[]string{"TOLLWAY_ADMIN_TOKEN", "hunter2"}, []string{"serve"}, `tollway serve: TOLLWAY_ADMIN_TOKEN: 7 bytes: want at least 32, or none to have one generated (see 'tollway help serve')`},
		{[]string{"TOLLWAY_JWT_SECRET", "hunter2"}, []string{"serve"}, `tollway serve: TOLLWAY_JWT_SECRET: 7 bytes: want at least 32, or none to have one generated (see 'tollway help serve')`},
		// A positional argument stopped the parsing: --data was ignored.
		{nil, []string{"serve", "extra", "--data", "/nonexistent"}, `tollway serve: unexpected argument "extra": serve takes flags only (see 'tollway help serve')`},
		{nil, []string{"serve", "--data", "/nonexistent", "extra"}, `tollway serve: unexpected argument "extra": serve takes flags only (see 'tollway help serve')`},
		{nil, []string{"serve", "--no-such-flag"}, `tollway serve: flag provided but not defined: -no-such-flag (see 'tollway help serve')`},
		{nil, []string{"version", "extra"}, `tollway version: unexpected argument "extra": version takes flags only (see 'tollway help version')`},
		{nil, []string{"help", "serve", "extra"}, `tollway help: unexpected argument "extra": help takes one command`},
	} {
		t.Run(strings.Join(append(append([]string(nil), c.env...), c.args...), " "), func(t *testing.T) {
			for i := 0; i < len(c.env); i += 2 {
				t.Setenv(c.env[i], c.env[i+1])
			}
			code, stdout, stderr := runCLI(t, c.args...)
			if code != 2 || stdout != "" || stderr != c.stderr+"\n" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 2 and %q", code, stdout, stderr, c.stderr)
			}
		})
	}
	code, stdout, stderr := runCLI(t, "help", "bogus")
	if code != 2 || stdout != "" || !strings.HasPrefix(stderr, "tollway: unknown command \"bogus\"\n") {
		t.Fatalf("tollway help bogus = exit %d, stdout %q, stderr %q; want 2", code, stdout, stderr)
	}
}

// TestFlagsWinOverVariables: a variable's bad value is no error when the
// flag replaces it, and a variable is read when there is no flag.
func TestFlagsWinOverVariables(t *testing.T) {
	t.Setenv("TOLLWAY_FEE_BPS", "abc")
	t.Setenv("TOLLWAY_ADMIN_TOKEN", "short")
	t.Setenv("TOLLWAY_MAX_CONNS", "7")
	t.Setenv("TOLLWAY_METRICS_PUBLIC", "true")
	token := strings.Repeat("t", adminTokenBytesMin)
	c, err := parseServe([]string{"--fee-bps", "25", "--admin-token", token})
	if err != nil {
		t.Fatal(err)
	}
	if c.feeBps != 25 || c.adminToken != token || c.maxConns != 7 || !c.metricsPublic {
		t.Fatalf("config %+v: want fee 25, the flag's token, 7 connections and public metrics", c)
	}
	if c, err = parseServe([]string{"--metrics-public=false"}); err == nil || c.metricsPublic {
		t.Fatalf("parseServe = %v, metrics public %v; want TOLLWAY_FEE_BPS's error and the flag's false", err, c.metricsPublic)
	}
}

func TestPublicURL(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"https://pay.example.com", "https://pay.example.com"},
		{"HTTPS://Pay.Example.COM:443/", "https://pay.example.com"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"http://pay.example.com:80", "http://pay.example.com"},
		{"https://pay.example.com:8443", "https://pay.example.com:8443"},
	} {
		c2, err := parseServe([]string{"--public-url", c.text})
		if err != nil || c2.publicURL == nil || c2.publicURL.String() != c.want {
			t.Errorf("--public-url %q = %v, %v; want %s", c.text, c2.publicURL, err, c.want)
		}
	}
	for _, text := range []string{"pay.example.com", "ftp://pay.example.com", "https://user@pay.example.com", "https://",
		"https://pay.example.com/api", "https://pay.example.com?a=b", "https://pay.example.com#x"} {
		if _, err := parseServe([]string{"--public-url", text}); err == nil {
			t.Errorf("--public-url %q = nil error", text)
		}
	}
	if c, err := parseServe(nil); err != nil || c.publicURL != nil {
		t.Fatalf("no --public-url = %v, %v; want none (the listen address)", c.publicURL, err)
	}
}

// TestRuntimeFailureExits1: a listen address in use is found only when
// serving: exit 1, one line.
func TestRuntimeFailureExits1(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	code, stdout, stderr := runCLI(t, "serve", "--data", t.TempDir(), "--listen", taken.Addr().String(), "--log-level", "error")
	if code != 1 || stdout != "" || !strings.HasPrefix(stderr, "tollway: ") || !strings.HasSuffix(stderr, "address already in use\n") ||
		strings.Count(stderr, "\n") != 1 {
		t.Fatalf("serve on a taken address = exit %d, stdout %q, stderr %q; want 1 and one line", code, stdout, stderr)
	}
}

func TestVersion(t *testing.T) {
	code, stdout, stderr := runCLI(t, "version")
	want := "tollway dev " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	// A test binary records no VCS revision; a built one may.
	if code != 0 || stderr != "" || !strings.HasPrefix(stdout, want) || !strings.HasSuffix(stdout, "\n") || strings.Count(stdout, "\n") != 1 {
		t.Fatalf("tollway version = exit %d, stdout %q, stderr %q; want 0 and %q", code, stdout, stderr, want)
	}
	info := &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "31f2e5c"}, {Key: "vcs.modified", Value: "true"}}}
	if line := versionLine(info); line != want+" revision 31f2e5c+dirty" {
		t.Fatalf("versionLine = %q, want the revision, dirty", line)
	}
	info.Settings[1].Value = "false"
	if line := versionLine(info); line != want+" revision 31f2e5c" {
		t.Fatalf("versionLine = %q, want the revision", line)
	}
	if line := versionLine(nil); line != want {
		t.Fatalf("versionLine(nil) = %q, want %q", line, want)
	}
}
