package webhooks_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestWebhooksAndTheRelayerKnowNothingOfEachOther: the webhooks deliver the
// relayer's settlements through Options.Rows, which cmd/tollway fills; the
// two packages, built, link neither the other nor anything of the chain
// (webhooks) or the webhooks (relayer).
func TestWebhooksAndTheRelayerKnowNothingOfEachOther(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go tool on PATH")
	}
	for pkg, banned := range map[string]string{
		"github.com/tollway/tollway/engine/webhooks": "github.com/tollway/tollway/chain",
		"github.com/tollway/tollway/chain/relay":     "github.com/tollway/tollway/engine/webhooks",
	} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("%s links %s", pkg, dep)
			}
		}
	}
}
