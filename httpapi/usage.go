package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/engine/usage"
)

// UsageDaysMax bounds the days one usage report spans, to inclusive.
const UsageDaysMax = 366

// Granularities of a usage report.
const (
	granularityDay   = "day"
	granularityMonth = "month"
)

// usageAmount is a count and a sum, as a report shows spending and earning.
type usageAmount struct {
	Count  uint64 `json:"count"`
	Amount string `json:"amount"`
}

// usageBucket is one day or month of a report, or its total.
type usageBucket struct {
	Start  string      `json:"start"` // YYYY-MM-DD; the total's is the report's from
	Spent  usageAmount `json:"spent"`
	Earned usageAmount `json:"earned"`
	Fees   string      `json:"fees"`
}

func bucketJSON(start time.Time, t usage.Totals) usageBucket {
	return usageBucket{
		Start:  start.Format(time.DateOnly),
		Spent:  usageAmount{Count: t.SpentCount, Amount: t.Spent.String()},
		Earned: usageAmount{Count: t.EarnedCount, Amount: t.Earned.String()},
		Fees:   t.Fees.String(),
	}
}

var errUsageUnavailable = &apiError{status: http.StatusServiceUnavailable, kind: typeAPI, code: "unavailable",
	message: "usage totals are not available right now; retry"}

// usageReport answers GET /v1/usage: an account's usage per UTC day or
// month, from committed events only, through the latest acknowledged write
// (the projection catches up first: a report read after a 201 counts it).
// A key reads its own account's (`account` may name it); a user's JWT
// names one of the user's accounts (accountReader).
func (s *Server) usageReport(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	reader, apiErr := s.accountReaderOf(ctx, access.ScopeUsageRead)
	if apiErr != nil {
		return apiErr
	}
	account, from, to, granularity, apiErr := readUsageQuery(ctx.QueryArgs(), reader)
	if apiErr != nil {
		return apiErr
	}
	if apiErr := reader.checkAccount(account); apiErr != nil {
		return apiErr
	}
	position := s.engine.Position()
	if err := s.usage.Wait(ctxOf(ctx), position); err != nil {
		return s.usageError(err)
	}
	buckets, err := s.usage.Days(account, usage.DayOf(from), usage.DayOf(to))
	if err == nil && granularity == granularityMonth {
		buckets, err = usage.ByMonth(buckets)
	}
	var total usage.Totals
	for i := 0; err == nil && i < len(buckets); i++ {
		err = total.Add(buckets[i].Totals)
	}
	if err != nil {
		return s.usageError(err)
	}
	out := make([]usageBucket, len(buckets))
	for i, b := range buckets {
		out[i] = bucketJSON(b.Start, b.Totals)
	}
	s.writeJSON(ctx, fasthttp.StatusOK, map[string]any{
		"accountId": account, "granularity": granularity,
		"buckets": out, "total": bucketJSON(from, total),
	})
	return nil
}

func (s *Server) usageError(err error) *apiError {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, usage.ErrUnavailable) {
		s.logger.Warn("usage report unavailable", "error", err)
		return errUsageUnavailable
	}
	s.logger.Error("usage report", "error", err)
	return errInternal
}

// readQueryDate reads the required query parameter name as a UTC date
// (YYYY-MM-DD), or records in fields what is wrong with it.
func readQueryDate(args *fasthttp.Args, fields map[string]string, name string) time.Time {
	value := args.Peek(name)
	if len(value) == 0 {
		fields[name] = "is required: a date, YYYY-MM-DD (UTC)"
		return time.Time{}
	}
	t, err := time.Parse(time.DateOnly, string(value))
	if err != nil {
		fields[name] = "must be a date, YYYY-MM-DD (UTC)"
	}
	return t
}

// readUsageQuery reads the account (reader.account), from, to (UTC dates,
// to inclusive, at most UsageDaysMax days) and granularity (day by
// default); any other parameter is refused.
func readUsageQuery(args *fasthttp.Args, reader accountReader) (account engine.AccountID, from, to time.Time, granularity string, apiErr *apiError) {
	fields := make(map[string]string)
	args.VisitAll(func(key, _ []byte) {
		switch name := string(key); name {
		case "account", "from", "to", "granularity":
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
	account = reader.account(args, fields)
	from, to = readQueryDate(args, fields, "from"), readQueryDate(args, fields, "to")
	granularity = string(args.Peek("granularity"))
	switch granularity {
	case "":
		granularity = granularityDay
	case granularityDay, granularityMonth:
	default:
		fields["granularity"] = "must be day or month"
	}
	if fields["from"] == "" && fields["to"] == "" {
		switch days := usage.DayOf(to) - usage.DayOf(from) + 1; {
		case days < 1:
			fields["to"] = "must not be before from"
		case days > UsageDaysMax:
			fields["to"] = fmt.Sprintf("must be at most %d days from from (inclusive)", UsageDaysMax)
		}
	}
	if len(fields) > 0 {
		return "", time.Time{}, time.Time{}, "", validation(fields)
	}
	return account, from, to, granularity, nil
}
