package main

import (
	"io"
	"log/slog"
	"testing"

	"github.com/tollway/tollway/httpapi"
)

func TestConnectionLimitsFromFlags(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct {
		args               []string
		fileLimit          uint64
		connections, perIP int
		bodyBudget         int64
		metricsPublic      bool
	}{
		{nil, 1024, 768, 384, httpapi.BodyBudgetBytesDefault, false},
		{[]string{"--max-conns", "100"}, 1024, 100, 50, httpapi.BodyBudgetBytesDefault, false},
		// --max-conns can only lower the limit the file limit allows.
		{[]string{"--max-conns", "5000"}, 1024, 768, 384, httpapi.BodyBudgetBytesDefault, false},
		{[]string{"--max-conns", "100", "--max-conns-per-ip", "1000"}, 1024, 100, 100, httpapi.BodyBudgetBytesDefault, false},
		{[]string{"--max-conns-per-ip", "10", "--body-budget-bytes", "2097152", "--metrics-public"}, 20_000, 19_744, 10, 2 << 20, true},
	} {
		config, err := parseServe(c.args)
		if err != nil {
			t.Fatalf("parseServe(%q) = %v", c.args, err)
		}
		connections, perIP := connectionLimits(config, c.fileLimit, logger)
		if connections != c.connections || perIP != c.perIP || config.bodyBudgetBytes != c.bodyBudget || config.metricsPublic != c.metricsPublic {
			t.Errorf("%q under %d files = %d connections, %d per address, budget %d, public %v; want %d, %d, %d, %v", c.args, c.fileLimit,
				connections, perIP, config.bodyBudgetBytes, config.metricsPublic, c.connections, c.perIP, c.bodyBudget, c.metricsPublic)
		}
	}
	for _, args := range [][]string{{"--max-conns", "-1"}, {"--max-conns-per-ip", "x"}, {"--body-budget-bytes", "1000"}, {"--metrics-public=maybe"}} {
		if _, err := parseServe(args); err == nil {
			t.Errorf("parseServe(%q) = nil, want an error", args)
		}
	}
}
