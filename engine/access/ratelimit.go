package access

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limits of a rate limit.
const (
	RateRequestsMax   = 1_000_000
	RatePerSecondsMax = 86_400
)

// RateLimit is a token bucket: Requests is the burst, refilled at Requests
// per PerSeconds seconds.
type RateLimit struct {
	Requests   uint32 `json:"requests"`
	PerSeconds uint32 `json:"perSeconds"`
}

// Validate checks the bounds of r.
func (r RateLimit) Validate() error {
	if r.Requests < 1 || r.Requests > RateRequestsMax || r.PerSeconds < 1 || r.PerSeconds > RatePerSecondsMax {
		return fmt.Errorf("%w: rate limit must be 1-%d requests per 1-%d seconds", ErrInvalid, RateRequestsMax, RatePerSecondsMax)
	}
	return nil
}

// String writes r as ParseRateLimit reads it, e.g. "1000/1s".
func (r RateLimit) String() string { return fmt.Sprintf("%d/%ds", r.Requests, r.PerSeconds) }

// ParseRateLimit reads "N/D" where D is a Go duration of whole seconds
// ("1000/1s", "300/15m").
func ParseRateLimit(s string) (RateLimit, error) {
	requests, per, ok := strings.Cut(s, "/")
	if !ok {
		return RateLimit{}, fmt.Errorf("%w: rate limit %q: want requests/duration, e.g. 1000/1s", ErrInvalid, s)
	}
	n, err := strconv.ParseUint(requests, 10, 32)
	if err != nil {
		return RateLimit{}, fmt.Errorf("%w: rate limit %q: requests: %v", ErrInvalid, s, err)
	}
	d, err := time.ParseDuration(per)
	if err != nil || d%time.Second != 0 {
		return RateLimit{}, fmt.Errorf("%w: rate limit %q: duration must be whole seconds", ErrInvalid, s)
	}
	r := RateLimit{Requests: uint32(n), PerSeconds: uint32(min(d/time.Second, RatePerSecondsMax+1))}
	return r, r.Validate()
}

// Bucket is a token bucket kept as a generic cell rate algorithm: one
// number, the theoretical arrival time (TAT), and integer nanoseconds, so
// it never drifts. The bucket is full when TAT is at or before now; each
// request moves TAT one interval later; a request is refused when that
// would put TAT more than the burst's duration past now.
//
// NB: not safe for concurrent use: an API key's actor owns its bucket.
type Bucket struct {
	tat int64 // Unix nanoseconds
}

// RateStatus is what the RateLimit-* headers report after a request.
type RateStatus struct {
	Limit             uint32 // the burst
	Remaining         uint32 // requests allowed right now
	ResetSeconds      uint32 // until the bucket is full again
	RetryAfterSeconds uint32 // when refused: until one request is allowed
}

// Take spends one request of limit at now (Unix nanoseconds). It reports
// whether the request is allowed and the bucket's state after it.
func (b *Bucket) Take(limit RateLimit, now int64) (bool, RateStatus) {
	interval := int64(limit.PerSeconds) * int64(time.Second) / int64(limit.Requests)
	interval = max(interval, 1)
	burst := interval * int64(limit.Requests)
	tat := max(b.tat, now) + interval
	allowed := tat-now <= burst
	if allowed {
		b.tat = tat
	}
	debt := max(b.tat, now) - now // how long until the bucket is full
	status := RateStatus{
		Limit:        limit.Requests,
		Remaining:    uint32((burst - debt) / interval),
		ResetSeconds: seconds(debt),
	}
	if !allowed {
		status.RetryAfterSeconds = max(seconds(tat-now-burst), 1)
	}
	return allowed, status
}

// seconds rounds nanoseconds up to whole seconds.
func seconds(nanoseconds int64) uint32 {
	return uint32((nanoseconds + int64(time.Second) - 1) / int64(time.Second))
}
