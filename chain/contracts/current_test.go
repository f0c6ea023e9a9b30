package contracts

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ethereum/go-ethereum/accounts/abi/abigen"
)

// generated lists the committed outputs of `make contracts`: each
// contract's build files and the binding abigen --v2 makes of them.
var generated = []struct{ contract, binding string }{
	{"TestUSDC", "testusdc.go"},
	{"SettlementPool", "settlementpool.go"},
	{"X402StateReader", "x402statereader.go"},
	{"AuthorizationBatcher", "authorizationbatcher.go"},
}

// TestContractsAreCurrent compiles src/ again with the pinned solc-js and
// regenerates the bindings (abigen.BindV2, what `abigen --v2` runs), and
// requires both to equal what is committed: a .sol edit without `make
// contracts` fails here. Skipped, loudly, when node or the pinned packages
// cannot be had; node_modules is kept between runs, so only the first run
// installs.
func TestContractsAreCurrent(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("SKIPPED: node is not installed, so the committed contract build cannot be checked against src/ (install node 20 and run `make contracts`)")
	}
	if !pinnedPackagesInstalled(t) {
		npm := exec.Command("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
		if output, err := npm.CombinedOutput(); err != nil {
			t.Skipf("SKIPPED: npm ci failed, so the committed contract build cannot be checked against src/: %v\n%s", err, output)
		}
	}
	out := t.TempDir()
	build := exec.Command("node", "build.mjs", "--out", out)
	if output, err := build.CombinedOutput(); err != nil {
		t.Fatalf("node build.mjs: %v\n%s", err, output)
	}
	for _, g := range generated {
		var files [2][]byte
		for i, ext := range []string{".abi", ".bin"} {
			fresh := readFile(t, filepath.Join(out, g.contract+ext))
			committed := readFile(t, filepath.Join("build", g.contract+ext))
			if !bytes.Equal(fresh, committed) {
				t.Fatalf("build/%s%s is not what src/ compiles to: run `make contracts` and commit", g.contract, ext)
			}
			files[i] = fresh
		}
		code, err := abigen.BindV2([]string{g.contract}, []string{string(files[0])}, []string{string(files[1])}, "contracts", map[string]string{}, map[string]string{})
		if err != nil {
			t.Fatalf("BindV2(%s): %v", g.contract, err)
		}
		if code != string(readFile(t, g.binding)) {
			t.Fatalf("%s is not what abigen --v2 makes of build/%s: run `make contracts` and commit", g.binding, g.contract)
		}
	}
}

// pinnedPackagesInstalled reports whether node_modules holds exactly the
// versions package-lock.json pins.
func pinnedPackagesInstalled(t *testing.T) bool {
	var lock struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(readFile(t, "package-lock.json"), &lock); err != nil {
		t.Fatalf("package-lock.json: %v", err)
	}
	for path, pinned := range lock.Packages {
		if path == "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(path, "package.json"))
		if err != nil {
			return false
		}
		var installed struct {
			Version string `json:"version"`
		}
		if json.Unmarshal(data, &installed) != nil || installed.Version != pinned.Version {
			return false
		}
	}
	return true
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return data
}
