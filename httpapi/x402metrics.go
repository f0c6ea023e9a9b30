package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/chain/x402"
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/engine/usage"
	"github.com/tollway/tollway/engine/x402metrics"
)

// x402NetworkBytesMax bounds the network filter of an x402 metrics query.
const x402NetworkBytesMax = 80

// x402Owner is whom a facilitator call's metrics count for: the owner of
// the calling key's account; with --x402-open (no key), the owner of the
// test-environment account bound to the payment's payTo wallet (the
// environment the deposit watcher credits too); else nobody ("").
func (s *Server) x402Owner(principal string, request *x402.Request) string {
	if principal != principalAnonymous {
		if p, err := s.directory.AnyAccount(principal); err == nil {
			return p.Owner
		}
		return ""
	}
	payTo := request.Payment().PayTo
	if !common.IsHexAddress(payTo) {
		return ""
	}
	if p, ok := s.directory.AccountByWallet(access.EnvironmentTest, common.HexToAddress(payTo).Hex()); ok {
		return p.Owner
	}
	return ""
}

// x402TallyJSON is a count of authorizations and their value.
type x402TallyJSON struct {
	Count  uint64 `json:"count"`
	Amount string `json:"amount"`
}

// x402NetworkMetricsJSON is one network's counts.
type x402NetworkMetricsJSON struct {
	Network  string        `json:"network"`
	Verified x402TallyJSON `json:"verified"`
	Settled  x402TallyJSON `json:"settled"`
	Failed   x402TallyJSON `json:"failed"`
}

// x402MetricsBucketJSON is one day or month, or a report's total.
type x402MetricsBucketJSON struct {
	Start    string                   `json:"start"`
	Networks []x402NetworkMetricsJSON `json:"networks"`
}

func x402NetworksJSON(networks []x402metrics.NetworkTotals) []x402NetworkMetricsJSON {
	tally := func(t x402metrics.Tally) x402TallyJSON {
		return x402TallyJSON{Count: t.Count, Amount: t.Amount.String()}
	}
	out := make([]x402NetworkMetricsJSON, len(networks))
	for i, n := range networks {
		out[i] = x402NetworkMetricsJSON{Network: n.Network, Verified: tally(n.Verified), Settled: tally(n.Settled), Failed: tally(n.Failed)}
	}
	return out
}

var errX402MetricsUnavailable = &apiError{status: http.StatusServiceUnavailable, kind: typeAPI, code: "unavailable",
	message: "x402 metrics are not available right now; retry"}

func (s *Server) x402MetricsError(err error) *apiError {
	if errors.Is(err, context.Canceled) || errors.Is(err, x402metrics.ErrUnavailable) {
		s.logger.Warn("x402 metrics unavailable", "error", err)
		return errX402MetricsUnavailable
	}
	s.logger.Error("x402 metrics", "error", err)
	return errInternal
}

// x402MetricsDaily is GET /v1/x402-metrics/daily: the signed-in user's
// facilitator counts per UTC day and network.
func (s *Server) x402MetricsDaily(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	return s.x402MetricsReport(ctx, granularityDay)
}

// x402MetricsMonthly is GET /v1/x402-metrics/monthly: per calendar month.
func (s *Server) x402MetricsMonthly(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	return s.x402MetricsReport(ctx, granularityMonth)
}

func (s *Server) x402MetricsReport(ctx *fasthttp.RequestCtx, granularity string) *apiError {
	u, apiErr := s.authenticateUser(ctx)
	if apiErr != nil {
		return apiErr
	}
	from, to, network, apiErr := readX402MetricsQuery(ctx.QueryArgs(), true)
	if apiErr != nil {
		return apiErr
	}
	buckets, err := s.x402Metrics.Days(u.ID, usage.DayOf(from), usage.DayOf(to), network)
	if err == nil && granularity == granularityMonth {
		buckets, err = x402metrics.ByMonth(buckets)
	}
	var total []x402metrics.NetworkTotals
	if err == nil {
		total, err = x402metrics.Sum(buckets)
	}
	if err != nil {
		return s.x402MetricsError(err)
	}
	out := make([]x402MetricsBucketJSON, len(buckets))
	for i, b := range buckets {
		out[i] = x402MetricsBucketJSON{Start: b.Start.Format(time.DateOnly), Networks: x402NetworksJSON(b.Networks)}
	}
	s.writeJSON(ctx, fasthttp.StatusOK, map[string]any{
		"userId": u.ID, "granularity": granularity, "network": nullable(network), "buckets": out,
		"total": x402MetricsBucketJSON{Start: from.Format(time.DateOnly), Networks: x402NetworksJSON(total)},
	})
	return nil
}

// x402MetricsSummary is GET /v1/x402-metrics/summary: the signed-in
// user's all-time counts per network.
func (s *Server) x402MetricsSummary(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	u, apiErr := s.authenticateUser(ctx)
	if apiErr != nil {
		return apiErr
	}
	_, _, network, apiErr := readX402MetricsQuery(ctx.QueryArgs(), false)
	if apiErr != nil {
		return apiErr
	}
	networks, err := s.x402Metrics.Summary(u.ID, network)
	if err != nil {
		return s.x402MetricsError(err)
	}
	s.writeJSON(ctx, fasthttp.StatusOK, map[string]any{
		"userId": u.ID, "network": nullable(network), "networks": x402NetworksJSON(networks),
	})
	return nil
}

// nullable is s, or JSON null when empty.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// readX402MetricsQuery reads network (optional, a CAIP-2 id) and, for a
// report (dated), from and to as GET /v1/usage does (UTC dates, to
// inclusive, at most UsageDaysMax days); any other parameter is refused.
func readX402MetricsQuery(args *fasthttp.Args, dated bool) (from, to time.Time, network string, apiErr *apiError) {
	fields := make(map[string]string)
	args.VisitAll(func(key, _ []byte) {
		switch name := string(key); {
		case name == "network" || dated && (name == "from" || name == "to"):
			if len(args.PeekMulti(name)) > 1 {
				fields[name] = "must be given once"
			}
		default:
			if len(name) > 64 {
				name = name[:64]
			}
			fields[name] = "unknown parameter"
		}
	})
	network = string(args.Peek("network"))
	if args.Has("network") && (network == "" || len(network) > x402NetworkBytesMax || !validNetworkID(network)) {
		fields["network"] = fmt.Sprintf("must be a network id, eip155:<chain id> (at most %d characters)", x402NetworkBytesMax)
	}
	if dated {
		from, to = readQueryDate(args, fields, "from"), readQueryDate(args, fields, "to")
		if fields["from"] == "" && fields["to"] == "" {
			switch days := usage.DayOf(to) - usage.DayOf(from) + 1; {
			case days < 1:
				fields["to"] = "must not be before from"
			case days > UsageDaysMax:
				fields["to"] = fmt.Sprintf("must be at most %d days from from (inclusive)", UsageDaysMax)
			}
		}
	}
	if len(fields) > 0 {
		return time.Time{}, time.Time{}, "", validation(fields)
	}
	return from, to, network, nil
}

// validNetworkID reports whether s is eip155:<decimal chain id>.
func validNetworkID(s string) bool {
	const prefix = "eip155:"
	if len(s) <= len(prefix) || s[:len(prefix)] != prefix || s[len(prefix)] == '0' {
		return false
	}
	for _, c := range s[len(prefix):] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
