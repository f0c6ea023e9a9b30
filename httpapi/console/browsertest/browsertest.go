package browsertest

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// ChromiumPath is Debian's chromium, the browser the scripts drive.
const ChromiumPath = "/usr/bin/chromium"

// Run is a prepared browser test: the scripts' directory and where the
// screenshots go.
type Run struct {
	// Dir is httpapi/console/e2e, absolute: the scripts and node_modules.
	Dir string
	// Screenshots is TOLLWAY_SCREENSHOTS made absolute, or a temporary
	// directory removed after the test.
	Screenshots string
	// Kept says whether the screenshots outlive the test, for the log.
	Kept string
}

// Dir returns httpapi/console/e2e, found from this file's place in the
// source tree: tests run in their own package's directory, which differs
// between callers.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "e2e")
}

// Prepare checks node, chromium and the pinned packages (running npm ci
// once when they are missing) and reports false after skipping t, or
// failing it under TOLLWAY_REQUIRE_CHROMIUM=1, when one cannot be had.
func Prepare(t testing.TB) (Run, bool) {
	t.Helper()
	stop := t.Skipf
	if os.Getenv("TOLLWAY_REQUIRE_CHROMIUM") == "1" {
		stop = t.Fatalf
	}
	run := Run{Dir: Dir()}
	if _, err := exec.LookPath("node"); err != nil {
		stop("SKIPPED: node is not installed, so the console's browser test cannot run (install node 20+)")
		return run, false
	}
	if _, err := os.Stat(ChromiumPath); err != nil {
		stop("SKIPPED: %s is missing, so the console's browser test cannot run (apt-get install chromium): %v", ChromiumPath, err)
		return run, false
	}
	if missing := packagesMissing(t, run.Dir); missing != "" {
		npm := exec.Command("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
		npm.Dir = run.Dir
		if output, err := npm.CombinedOutput(); err != nil {
			stop("SKIPPED: %s, and npm ci in %s failed, so the console's browser test cannot run: %v\n%s", missing, run.Dir, err, output)
			return run, false
		}
		if missing := packagesMissing(t, run.Dir); missing != "" {
			stop("SKIPPED: after npm ci in %s, %s", run.Dir, missing)
			return run, false
		}
	}
	run.Screenshots, run.Kept = os.Getenv("TOLLWAY_SCREENSHOTS"), "kept"
	if run.Screenshots == "" {
		run.Screenshots, run.Kept = t.TempDir(), "removed after the test; set TOLLWAY_SCREENSHOTS=<dir> to keep them"
	} else if abs, err := filepath.Abs(run.Screenshots); err == nil {
		run.Screenshots = abs // node runs in Dir
	}
	return run, true
}

// packagesMissing says which package dir's package.json pins is not
// installed at its pinned version, or "" when all are.
func packagesMissing(t testing.TB, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pins struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	if err := json.Unmarshal(data, &pins); err != nil {
		t.Fatalf("%s/package.json: %v", dir, err)
	}
	for name, version := range pins.DevDependencies {
		data, err := os.ReadFile(filepath.Join(dir, "node_modules", name, "package.json"))
		if err != nil {
			return name + " is not installed"
		}
		var installed struct {
			Version string `json:"version"`
		}
		if err := json.Unmarshal(data, &installed); err != nil || installed.Version != version {
			return name + " is not installed at " + version
		}
	}
	return ""
}
