package ledger

import (
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// forbiddenImports are the standard packages the pure core must not use:
// no clock (time is an argument), no goroutines or locks, no randomness, no
// I/O. A listed path forbids its subpackages too (os/exec, sync/atomic,
// math/rand/v2, net/http).
var forbiddenImports = []string{"time", "os", "sync", "math/rand", "net"}

func TestLedgerImportsOnlyPureStandardPackages(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		source, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		// Every non-test file counts, whatever its build constraints.
		f, err := parser.ParseFile(fset, name, source, parser.ImportsOnly)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		if f.Name.Name != "ledger" {
			t.Errorf("%s is package %s, want ledger", name, f.Name.Name)
		}
		checked++
		for _, spec := range f.Imports {
			path, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				t.Fatalf("%s: import %s: %v", name, spec.Path.Value, err)
			}
			if !isStandard(path) {
				t.Errorf("%s imports %q, want only the standard library", fset.Position(spec.Pos()), path)
			}
			for _, forbidden := range forbiddenImports {
				if path == forbidden || strings.HasPrefix(path, forbidden+"/") {
					t.Errorf("%s imports %q, want no clock, goroutines, randomness or I/O in the ledger core", fset.Position(spec.Pos()), path)
				}
			}
		}
	}
	if checked == 0 {
		t.Errorf("found no non-test Go files in the package directory, want the ledger sources")
	}
}

// isStandard reports whether path is a package of the Go standard library:
// its first element has no dot (module paths have a domain) and the go
// tool finds it in GOROOT. "C" (cgo) is not standard.
func isStandard(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	if path == "C" || strings.Contains(first, ".") {
		return false
	}
	p, err := build.Default.Import(path, "", build.FindOnly)
	return err == nil && p.Goroot
}

func TestIsStandardTellsTheStandardLibraryFromTheRest(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"fmt", true},
		{"math/bits", true},
		{"encoding/binary", true},
		{"C", false},
		{"github.com/tollway/tollway/engine", false},
		{"golang.org/x/exp/slices", false},
		{"notapackage", false},
	}
	for _, tt := range tests {
		if got := isStandard(tt.path); got != tt.want {
			t.Errorf("isStandard(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}
