package gateway

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/httpapi/egress"
)

// Limits of a route.
const (
	// SlugBytesMin and SlugBytesMax bound a slug: it is one path segment
	// of every gateway call, and the route's global name.
	SlugBytesMin = 3
	SlugBytesMax = 63
	// RoutesPerOwnerMax bounds the routes of one user.
	RoutesPerOwnerMax = 100
	// TimeoutMsMin, TimeoutMsMax and TimeoutMsDefault bound a route's
	// timeout, which covers the whole exchange with the upstream: sending
	// the request, its answer and the streamed body.
	TimeoutMsMin     = 100
	TimeoutMsMax     = 120_000
	TimeoutMsDefault = 30_000
	// HoldTimeout is the life of a call's hold: longer than any call
	// (TimeoutMsMax), so the gateway captures or voids it first; if the
	// process dies mid-call the engine expires it and the consumer pays
	// nothing.
	HoldTimeout = 10 * time.Minute
	// secretBytes is the entropy of a route's signing secret.
	secretBytes = 32
	// SecretPrefix starts every route secret.
	SecretPrefix = "gws_"
)

// Methods are the HTTP methods a route may allow; a route without methods
// (absent or []) allows them all.
var Methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// Route is a supplier's priced upstream. Secret is the HMAC key of the
// Tollway-Signature on every forwarded call. NB: it is stored as it is,
// not hashed: the gateway needs the key itself to sign, so a route's row
// is as sensitive as the secret (it is shown to its owner once, at
// creation).
type Route struct {
	Slug         string    `json:"slug"`
	Owner        string    `json:"owner"`
	AccountID    string    `json:"accountId"`
	Upstream     string    `json:"upstream"`
	PricePerCall string    `json:"pricePerCall"` // base units, canonical decimal, positive
	Methods      []string  `json:"methods,omitempty"`
	TimeoutMs    int       `json:"timeoutMs"`
	Secret       string    `json:"secret"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// Allows reports whether the route forwards method.
func (r *Route) Allows(method string) bool {
	return len(r.Methods) == 0 || slices.Contains(r.Methods, method)
}

// Price returns the route's price per call. REQUIRES: a checked route.
func (r *Route) Price() engine.Amount {
	price, err := engine.ParseAmount(r.PricePerCall)
	if err != nil {
		panic(fmt.Sprintf("gateway: route %s has a price that passed no check: %v", r.Slug, err))
	}
	return price
}

// Timeout returns the route's timeout.
func (r *Route) Timeout() time.Duration { return time.Duration(r.TimeoutMs) * time.Millisecond }

// FieldsError is what is wrong with a route, by field.
type FieldsError struct{ Fields map[string]string }

func (e *FieldsError) Error() string { return fmt.Sprintf("gateway: %d invalid fields", len(e.Fields)) }

// checkSlug reports whether slug is 3-63 lowercase letters, digits and
// hyphens, starting and ending with a letter or digit.
func checkSlug(slug string) bool {
	if len(slug) < SlugBytesMin || len(slug) > SlugBytesMax || slug[0] == '-' || slug[len(slug)-1] == '-' {
		return false
	}
	for i := 0; i < len(slug); i++ {
		if c := slug[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// check returns what is wrong with r's client-given fields, by field, and
// the parsed upstream; it fills the default timeout and normalizes the
// methods' order.
func check(ctx context.Context, policy *egress.Policy, r *Route) (map[string]string, *url.URL) {
	fields := map[string]string{}
	if !checkSlug(r.Slug) {
		fields["slug"] = fmt.Sprintf("must be %d-%d lowercase letters, digits and hyphens, not starting or ending with a hyphen", SlugBytesMin, SlugBytesMax)
	}
	if r.AccountID == "" {
		fields["accountId"] = "must be one of your accounts"
	}
	upstream, err := policy.CheckURL(ctx, r.Upstream)
	switch {
	case err != nil:
		fields["upstream"] = "must be an http or https URL of a public address: " + err.Error()
	case upstream.RawQuery != "" || upstream.Fragment != "":
		fields["upstream"] = "must have no query or fragment"
	}
	if price, err := engine.ParseAmount(r.PricePerCall); err != nil || price.IsZero() || price.String() != r.PricePerCall {
		fields["pricePerCall"] = `must be a positive integer string of base units, e.g. "1500"`
	}
	methods := make([]string, 0, len(r.Methods))
	for _, m := range Methods { // Methods' order, without repeats
		if slices.Contains(r.Methods, m) {
			methods = append(methods, m)
		}
	}
	for _, m := range r.Methods {
		if !slices.Contains(Methods, m) {
			fields["methods"] = "must be HTTP methods among " + strings.Join(Methods, ", ")
		}
	}
	r.Methods = methods
	if len(methods) == 0 {
		r.Methods = nil
	}
	if r.TimeoutMs == 0 {
		r.TimeoutMs = TimeoutMsDefault
	}
	if r.TimeoutMs < TimeoutMsMin || r.TimeoutMs > TimeoutMsMax {
		fields["timeoutMs"] = fmt.Sprintf("must be an integer from %d to %d", TimeoutMsMin, TimeoutMsMax)
	}
	if len(fields) > 0 {
		return fields, nil
	}
	return nil, upstream
}
