package httpapi

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// The generator and runtime a client of this API is most likely to use,
// pinned: the test checks that their default output compiles.
const (
	oapiCodegen        = "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2"
	oapiRuntime        = "github.com/oapi-codegen/runtime"
	oapiRuntimeVersion = "v1.9.0"
	// codegenTimeout bounds the whole test: a cold module cache takes about
	// 45 s on CI's runners, a warm one a few seconds.
	codegenTimeout = 3 * time.Minute
)

// TestGeneratedGoClientCompiles generates a Go client from openapi.json with
// oapi-codegen's default settings (types and client) and builds it: a
// schema named like a type the generator makes (SignupResponse was one)
// breaks every client. It needs the Go module proxy; it is skipped, saying
// why, only when the generator or its runtime cannot be fetched and built.
func TestGeneratedGoClientCompiles(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, statErr := os.Stat(goTool); statErr != nil {
			t.Skipf("no go command to build oapi-codegen with: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), codegenTimeout)
	defer cancel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	module := filepath.Join(dir, "client")
	if err := os.MkdirAll(filepath.Join(module, "client"), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(workdir string, env []string, name string, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = workdir
		// Outside this module: no workspace, and the module's own go.sum
		// is written as needed.
		cmd.Env = append(os.Environ(), append([]string{"GOWORK=off", "GOFLAGS=-mod=mod"}, env...)...)
		return cmd.CombinedOutput()
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(module, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The tools: the generator, and the runtime its output imports. A
	// failure here is the environment's (no proxy), not openapi.json's.
	if out, err := run(dir, []string{"GOBIN=" + bin}, goTool, "install", oapiCodegen); err != nil {
		t.Skipf("cannot build %s (needs the Go module proxy): %v\n%s", oapiCodegen, err, out)
	}
	write("go.mod", "module example.com/tollwayclient\n\ngo 1.24\n\nrequire "+oapiRuntime+" "+oapiRuntimeVersion+"\n")
	write("client/stub.go", "package client\n\nimport (\n\t_ \""+oapiRuntime+"\"\n\t_ \""+oapiRuntime+"/types\"\n)\n")
	if out, err := run(module, nil, goTool, "mod", "tidy"); err != nil {
		t.Skipf("cannot fetch %s %s (needs the Go module proxy): %v\n%s", oapiRuntime, oapiRuntimeVersion, err, out)
	}

	// The client, with default settings, from the document the server serves.
	spec := filepath.Join(dir, "openapi.json")
	if err := os.WriteFile(spec, openAPIDocument, 0o644); err != nil {
		t.Fatal(err)
	}
	generated, err := exec.CommandContext(ctx, filepath.Join(bin, "oapi-codegen"),
		"-generate", "types,client", "-package", "client", spec).Output()
	if err != nil {
		var stderr []byte
		if exit, ok := err.(*exec.ExitError); ok {
			stderr = exit.Stderr
		}
		t.Fatalf("oapi-codegen rejects openapi.json: %v\n%s", err, stderr)
	}
	write("client/client.gen.go", string(generated))
	if out, err := run(module, nil, goTool, "build", "./..."); err != nil {
		t.Fatalf("the client oapi-codegen generates from openapi.json does not compile: %v\n%s", err, out)
	}
	if out, err := run(module, nil, goTool, "vet", "./..."); err != nil {
		t.Fatalf("go vet of the generated client: %v\n%s", err, out)
	}
}
