package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// beMain makes this test binary act as the tollway command when a test
// starts it as a child (the bench starts servers from its own executable).
const beMain = "TOLLWAY_TEST_BE_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(beMain) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestServerLinksNoBenchmark checks that the server binary links none of
// the load benchmark: no PostgreSQL or Redis client, no plotting library,
// no bench package (issue 17).
func TestServerLinksNoBenchmark(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go tool on PATH")
	}
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/jackc/pgx", "github.com/redis/go-redis", "gonum.org/",
			"github.com/tollway/tollway/bench"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("cmd/tollway links %s", dep)
			}
		}
	}
}

// TestNoNoopServerCommand checks that the server binary cannot start the
// benchmark's no-op server, whose key registration is unauthenticated.
func TestNoNoopServerCommand(t *testing.T) {
	var stdout, stderr strings.Builder
	status := run([]string{"noop-server", "--listen", "127.0.0.1:0"}, &stdout, &stderr)
	if status != exitUsage || !strings.Contains(stderr.String(), `unknown command "noop-server"`) {
		t.Fatalf("tollway noop-server = %d %q, want %d and unknown command", status, stderr.String(), exitUsage)
	}
}

// fakeBenchBinary writes a tollway-bench into dir that records its
// arguments, one a line, in dir/args and exits with status.
func fakeBenchBinary(t *testing.T, dir string, status int) {
	t.Helper()
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n' \"$@\" > %s\nexit %d\n", filepath.Join(dir, "args"), status)
	if err := os.WriteFile(filepath.Join(dir, benchBinary), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestBenchRunsTheBenchBinary checks that `tollway bench ARGS` runs the
// tollway-bench beside it with --tollway naming itself, passes its exit
// status on, and says how to build tollway-bench when there is none.
func TestBenchRunsTheBenchBinary(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh on PATH for the fake tollway-bench")
	}
	dir := t.TempDir()
	self := filepath.Join(dir, "tollway")
	fakeBenchBinary(t, dir, 0)
	if err := runBench(self, []string{"--scenarios", "http-charge", "--quiet"}); err != nil {
		t.Fatalf("tollway bench = %v", err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "args"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "--tollway\n" + self + "\n--scenarios\nhttp-charge\n--quiet\n"; string(got) != want {
		t.Fatalf("tollway-bench got arguments %q, want %q", got, want)
	}

	fakeBenchBinary(t, dir, 3)
	if err := runBench(self, nil); err != exitStatus(3) {
		t.Fatalf("tollway bench with a failing tollway-bench = %v, want its status 3", err)
	}

	empty := t.TempDir()
	t.Setenv("PATH", empty)
	err = runBench(filepath.Join(empty, "tollway"), nil)
	if err == nil || !strings.Contains(err.Error(), "go build -o "+filepath.Join(empty, benchBinary)+" ./cmd/tollway-bench") {
		t.Fatalf("tollway bench without tollway-bench = %v, want how to build it", err)
	}
}
