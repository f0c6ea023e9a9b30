package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/httpapi/egress"
)

// prefixRoute starts the rows of routes in the engine's table, + slug.
const prefixRoute = "gateway/route/"

// UpstreamConnectionsMax bounds the pooled connections to one route's
// upstream; a call that finds them all busy waits up to its timeout.
const UpstreamConnectionsMax = 512

// Errors of the registry, matched with errors.Is.
var (
	ErrNotFound  = errors.New("gateway: route not found")
	ErrSlugTaken = errors.New("gateway: slug taken")
	ErrLimit     = errors.New("gateway: routes per owner limit reached")
)

// Table is the part of the engine routes are stored in (*engine.Engine).
type Table interface {
	WriteRows(ctx context.Context, rows ...engine.Row) (uint64, error)
	ScanRows(prefix []byte, fn func(key, value []byte) error) error
}

// Target is a route as the gateway forwards to it: the route, its parsed
// upstream and the pooled client of its host.
type Target struct {
	Route    Route
	Upstream *url.URL
	Client   *fasthttp.HostClient
}

// Registry holds the routes, by slug. Its methods are safe for concurrent
// use.
//
// NB: changes are serialized by writeMu across check, write and apply: they
// are rare (an owner's console), while lookups (every gateway call) take mu
// shared only.
type Registry struct {
	table   Table
	policy  *egress.Policy
	writeMu sync.Mutex

	mu     sync.RWMutex
	routes map[string]*Target
	owned  map[string]int // owner -> routes
}

// New returns an empty registry over table whose upstreams obey policy;
// call Load before any other method.
func New(table Table, policy *egress.Policy) *Registry {
	return &Registry{table: table, policy: policy, routes: map[string]*Target{}, owned: map[string]int{}}
}

// Load reads every route from the table. A stored upstream is parsed but
// not resolved again: connections are checked when they are dialled.
func (g *Registry) Load() error {
	return g.table.ScanRows([]byte(prefixRoute), func(key, value []byte) error {
		var r Route
		if err := json.Unmarshal(value, &r); err != nil {
			return fmt.Errorf("gateway: load route %q: %w", key, err)
		}
		upstream, err := url.Parse(r.Upstream)
		if err != nil || !checkSlug(r.Slug) || r.Secret == "" {
			return fmt.Errorf("gateway: load route %q: not a checked route", key)
		}
		if _, err := engine.ParseAmount(r.PricePerCall); err != nil {
			return fmt.Errorf("gateway: load route %q: price: %w", key, err)
		}
		g.routes[r.Slug] = g.target(r, upstream)
		g.owned[r.Owner]++
		return nil
	})
}

// target builds the target of a checked route: a HostClient of its
// upstream's host that dials through the policy.
func (g *Registry) target(r Route, upstream *url.URL) *Target {
	port := upstream.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[upstream.Scheme]
	}
	client := &fasthttp.HostClient{
		Addr: net.JoinHostPort(upstream.Hostname(), port), IsTLS: upstream.Scheme == "https",
		Name: "tollway-gateway", DialTimeout: g.policy.DialTimeout, MaxConns: UpstreamConnectionsMax,
		MaxConnWaitTimeout: r.Timeout(), StreamResponseBody: true,
		// A GET, HEAD, PUT or QUERY whose pooled connection fails before
		// any answer (the upstream closed it while idle) is sent once
		// more on a new one, as RFC 9110 section 9.2.2 lets a client
		// resend idempotent requests: the upstream may see such a call
		// twice; its consumer pays once (one hold per call). Other
		// methods are never resent.
		MaxIdemponentCallAttempts: 2,
		// Headers go as the consumer wrote them; the upstream may be
		// picky about case, and normalizing costs time.
		DisableHeaderNamesNormalizing: true, DisablePathNormalizing: true,
	}
	return &Target{Route: r, Upstream: upstream, Client: client}
}

func newSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("gateway: secret: %w", err)
	}
	return SecretPrefix + hex.EncodeToString(b), nil
}

func (g *Registry) write(ctx context.Context, slug string, r *Route) error {
	row := engine.Row{Key: []byte(prefixRoute + slug)}
	if r != nil {
		value, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("gateway: encode route %s: %w", slug, err)
		}
		row.Value = value
	}
	if _, err := g.table.WriteRows(ctx, row); err != nil {
		return fmt.Errorf("gateway: write route %s: %w", slug, err)
	}
	return nil
}

// Create registers r, whose Owner the caller sets and whose AccountID it
// has checked is the owner's, with a new secret, at now. A *FieldsError
// says what is wrong with r; ErrSlugTaken, ErrLimit.
func (g *Registry) Create(ctx context.Context, r Route, now time.Time) (Route, error) {
	fields, upstream := check(ctx, g.policy, &r)
	if fields != nil {
		return Route{}, &FieldsError{Fields: fields}
	}
	secret, err := newSecret()
	if err != nil {
		return Route{}, err
	}
	r.Secret, r.CreatedAt, r.UpdatedAt = secret, now.UTC(), now.UTC()
	g.writeMu.Lock()
	defer g.writeMu.Unlock()
	g.mu.RLock()
	_, taken := g.routes[r.Slug]
	count := g.owned[r.Owner]
	g.mu.RUnlock()
	switch {
	case taken:
		return Route{}, ErrSlugTaken
	case count >= RoutesPerOwnerMax:
		return Route{}, ErrLimit
	}
	if err := g.write(ctx, r.Slug, &r); err != nil {
		return Route{}, err
	}
	g.mu.Lock()
	g.routes[r.Slug] = g.target(r, upstream)
	g.owned[r.Owner]++
	g.mu.Unlock()
	return r, nil
}

// Replace replaces the account, upstream, price, methods and timeout of
// owner's route slug with r's at now, keeping its secret; ErrNotFound if
// owner has no such route.
func (g *Registry) Replace(ctx context.Context, owner, slug string, r Route, now time.Time) (Route, error) {
	g.writeMu.Lock()
	defer g.writeMu.Unlock()
	old, err := g.Route(owner, slug)
	if err != nil {
		return Route{}, err
	}
	r.Slug, r.Owner, r.Secret, r.CreatedAt, r.UpdatedAt = old.Slug, old.Owner, old.Secret, old.CreatedAt, now.UTC()
	fields, upstream := check(ctx, g.policy, &r)
	if fields != nil {
		return Route{}, &FieldsError{Fields: fields}
	}
	if err := g.write(ctx, slug, &r); err != nil {
		return Route{}, err
	}
	g.mu.Lock()
	previous := g.routes[slug]
	g.routes[slug] = g.target(r, upstream)
	g.mu.Unlock()
	// Calls in flight finish on their connections; idle ones go now.
	previous.Client.CloseIdleConnections()
	return r, nil
}

// Delete removes owner's route slug; ErrNotFound if owner has none.
func (g *Registry) Delete(ctx context.Context, owner, slug string) error {
	g.writeMu.Lock()
	defer g.writeMu.Unlock()
	if _, err := g.Route(owner, slug); err != nil {
		return err
	}
	if err := g.write(ctx, slug, nil); err != nil {
		return err
	}
	g.mu.Lock()
	previous := g.routes[slug]
	delete(g.routes, slug)
	if g.owned[owner]--; g.owned[owner] == 0 {
		delete(g.owned, owner)
	}
	g.mu.Unlock()
	previous.Client.CloseIdleConnections()
	return nil
}

// Route returns owner's route slug; ErrNotFound for another owner's.
func (g *Registry) Route(owner, slug string) (Route, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	t, ok := g.routes[slug]
	if !ok || t.Route.Owner != owner {
		return Route{}, ErrNotFound
	}
	return t.Route, nil
}

// Routes returns owner's routes by slug (at most RoutesPerOwnerMax).
func (g *Registry) Routes(owner string) []Route {
	g.mu.RLock()
	out := make([]Route, 0, g.owned[owner])
	for _, t := range g.routes {
		if t.Route.Owner == owner {
			out = append(out, t.Route)
		}
	}
	g.mu.RUnlock()
	slices.SortFunc(out, func(a, b Route) int { return strings.Compare(a.Slug, b.Slug) })
	return out
}

// Target returns the route slug as the gateway forwards to it. The target
// is not changed after it is returned: a replacement makes a new one.
func (g *Registry) Target(slug string) (*Target, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	t, ok := g.routes[slug]
	return t, ok
}
