package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tollway/tollway/engine"
)

// Prefixes of the registry's rows in the engine's table.
const (
	prefixNetwork  = "x402/network/"  // + network id
	prefixAsset    = "x402/asset/"    // + network id + "/" + EIP-55 address
	prefixResource = "x402/resource/" // + resource id
)

// Table is the part of the engine the registry stores its records in
// (*engine.Engine): durable writes and scans of its table.
type Table interface {
	WriteRows(ctx context.Context, rows ...engine.Row) (uint64, error)
	ScanRows(prefix []byte, fn func(key, value []byte) error) error
}

// Registry holds the networks, assets and resources. Its methods are safe
// for concurrent use.
//
// NB: the maps are read under mu shared. Networks and assets change rarely
// (an admin, the start), so their writes are serialized by writeMu across
// check, write and apply. A resource's creation reserves its place under
// its owner's cap under mu before its write; a replacement holds the
// record's own lock across its write, so changes of different resources
// share group commits.
type Registry struct {
	table   Table
	writeMu sync.Mutex // serializes network and asset changes

	mu        sync.RWMutex
	networks  map[string]Network
	assets    map[assetKey]Asset
	perNet    map[string]int // network id -> registered assets
	resources map[string]*resourceRecord
	owned     map[string][]string // owner -> resource ids, in creation order
	pending   map[string]int      // owner -> creations in flight
}

type assetKey struct{ network, address string }

type resourceRecord struct {
	mu       sync.Mutex // serializes replacements of this resource
	resource Resource   // replaced under Registry.mu, read under it
}

// New returns an empty registry over table; call Load before any other
// method.
func New(table Table) *Registry {
	return &Registry{
		table: table, networks: map[string]Network{}, assets: map[assetKey]Asset{}, perNet: map[string]int{},
		resources: map[string]*resourceRecord{}, owned: map[string][]string{}, pending: map[string]int{},
	}
}

// Load reads every record from the table, checking each as it would be
// checked before its write.
func (g *Registry) Load() error {
	err := scan(g.table, prefixNetwork, func(n Network) error {
		if why := n.Check(); why != "" {
			return fmt.Errorf("network %q: %s", n.ID, why)
		}
		g.networks[n.ID] = n
		return nil
	})
	if err == nil {
		err = scan(g.table, prefixAsset, func(a Asset) error {
			if fields := a.Check(); fields != nil {
				return fmt.Errorf("asset %s on %s: %v", a.Address, a.Network, fields)
			}
			if _, ok := g.networks[a.Network]; !ok {
				return fmt.Errorf("asset %s on %s: the network is not registered", a.Address, a.Network)
			}
			g.assets[assetKey{a.Network, a.Address}] = a
			g.perNet[a.Network]++
			return nil
		})
	}
	if err == nil {
		err = scan(g.table, prefixResource, func(r Resource) error {
			g.resources[r.ID] = &resourceRecord{resource: r}
			g.owned[r.Owner] = append(g.owned[r.Owner], r.ID)
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("load the x402 registry: %w", err)
	}
	// Resources load in id order; restore creation order.
	for _, ids := range g.owned {
		slices.SortStableFunc(ids, func(a, b string) int {
			return g.resources[a].resource.CreatedAt.Compare(g.resources[b].resource.CreatedAt)
		})
	}
	return nil
}

func scan[T any](table Table, prefix string, each func(T) error) error {
	return table.ScanRows([]byte(prefix), func(key, value []byte) error {
		var record T
		if err := json.Unmarshal(value, &record); err != nil {
			return fmt.Errorf("row %q: %w", key, err)
		}
		return each(record)
	})
}

func row(key string, record any) (engine.Row, error) {
	value, err := json.Marshal(record)
	if err != nil {
		return engine.Row{}, fmt.Errorf("registry: encode %s: %w", key, err)
	}
	return engine.Row{Key: []byte(key), Value: value}, nil
}

func (g *Registry) write(ctx context.Context, what string, rows ...engine.Row) error {
	if _, err := g.table.WriteRows(ctx, rows...); err != nil {
		return fmt.Errorf("registry: write %s: %w", what, err)
	}
	return nil
}

// ---- networks and assets

// Networks returns the registered networks by chain id.
func (g *Registry) Networks() []Network {
	g.mu.RLock()
	out := make([]Network, 0, len(g.networks))
	for _, n := range g.networks {
		out = append(out, n)
	}
	g.mu.RUnlock()
	slices.SortFunc(out, func(a, b Network) int { return cmp.Compare(a.ChainID, b.ChainID) })
	return out
}

// Network returns a registered network, or ErrNotFound.
func (g *Registry) Network(id string) (Network, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	n, ok := g.networks[id]
	if !ok {
		return Network{}, ErrNotFound
	}
	return n, nil
}

// Assets returns the registered assets of network, or of every network
// when network is "", by network's chain id, then symbol, then address.
func (g *Registry) Assets(network string) []Asset {
	g.mu.RLock()
	out := make([]Asset, 0, len(g.assets))
	for key, a := range g.assets {
		if network == "" || key.network == network {
			out = append(out, a)
		}
	}
	chainIDs := make(map[string]uint64, len(g.networks))
	for id, n := range g.networks {
		chainIDs[id] = n.ChainID
	}
	g.mu.RUnlock()
	slices.SortFunc(out, func(a, b Asset) int {
		return cmp.Or(cmp.Compare(chainIDs[a.Network], chainIDs[b.Network]), cmp.Compare(a.Symbol, b.Symbol), cmp.Compare(a.Address, b.Address))
	})
	return out
}

// Asset returns the registered asset of network at address (EIP-55).
func (g *Registry) Asset(network, address string) (Asset, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	a, ok := g.assets[assetKey{network, address}]
	return a, ok
}

// PutAsset registers a or replaces the asset of its network and address,
// registering its network too (named by NetworkName) if it is not yet. It
// reports whether the asset is new. a.Address must be EIP-55
// (CheckAddress); a *FieldsError says what is wrong with a, a *LimitError
// which cap a new network or asset would pass.
func (g *Registry) PutAsset(ctx context.Context, a Asset) (created bool, err error) {
	if fields := a.Check(); fields != nil {
		return false, &FieldsError{Fields: fields}
	}
	chainID, _ := ParseNetworkID(a.Network)
	return g.put(ctx, Network{ID: a.Network, Name: NetworkName(chainID), ChainID: chainID}, a, true)
}

// EnsureAsset registers network and a unless they are registered already,
// in which case it leaves them as they are (an admin may have renamed
// them) and writes nothing: the chain in use, registered at every start.
// It reports whether it wrote.
func (g *Registry) EnsureAsset(ctx context.Context, network Network, a Asset) (bool, error) {
	if why := network.Check(); why != "" {
		return false, fmt.Errorf("%w: network: %s", ErrInvalid, why)
	}
	if fields := a.Check(); fields != nil {
		return false, &FieldsError{Fields: fields}
	}
	if a.Network != network.ID {
		return false, fmt.Errorf("%w: the asset is not of network %s", ErrInvalid, network.ID)
	}
	return g.put(ctx, network, a, false)
}

// put writes network (when not registered) and a (when not registered, or
// when replace), in one write.
func (g *Registry) put(ctx context.Context, network Network, a Asset, replace bool) (bool, error) {
	g.writeMu.Lock()
	defer g.writeMu.Unlock()
	g.mu.RLock()
	_, haveNetwork := g.networks[network.ID]
	old, haveAsset := g.assets[assetKey{a.Network, a.Address}]
	networks, assets := len(g.networks), g.perNet[a.Network]
	g.mu.RUnlock()
	switch {
	case !haveNetwork && networks >= NetworksMax:
		return false, &LimitError{What: "networks", Max: NetworksMax}
	case !haveAsset && assets >= AssetsPerNetworkMax:
		return false, &LimitError{What: "assets per network", Max: AssetsPerNetworkMax}
	case haveAsset && (!replace || equalAsset(old, a)):
		return false, nil
	}
	var rows []engine.Row
	if !haveNetwork {
		r, err := row(prefixNetwork+network.ID, network)
		if err != nil {
			return false, err
		}
		rows = append(rows, r)
	}
	r, err := row(prefixAsset+a.Network+"/"+a.Address, a)
	if err != nil {
		return false, err
	}
	if err := g.write(ctx, "asset "+a.Address, append(rows, r)...); err != nil {
		return false, err
	}
	g.mu.Lock()
	if !haveNetwork {
		g.networks[network.ID] = network
	}
	if !haveAsset {
		g.perNet[a.Network]++
	}
	g.assets[assetKey{a.Network, a.Address}] = a
	g.mu.Unlock()
	return !haveAsset, nil
}

func equalAsset(a, b Asset) bool {
	return a.Network == b.Network && a.Address == b.Address && a.Symbol == b.Symbol && a.Name == b.Name &&
		a.Decimals == b.Decimals && (a.EIP712 == nil) == (b.EIP712 == nil) && (a.EIP712 == nil || *a.EIP712 == *b.EIP712)
}

// ---- resources

// checkResource checks r against the registered networks and assets.
func (g *Registry) checkResource(r *Resource) error {
	g.mu.RLock()
	fields := checkResource(r, func(network, address string) (Asset, bool) {
		a, ok := g.assets[assetKey{network, address}]
		return a, ok
	}, func(id string) bool { _, ok := g.networks[id]; return ok })
	g.mu.RUnlock()
	if len(fields) > 0 {
		return &FieldsError{Fields: fields}
	}
	return nil
}

// CreateResource registers r, whose ID and Owner the caller sets, created
// at now. Its addresses are returned in EIP-55. A *FieldsError says what is
// wrong with r; a *LimitError that its owner has ResourcesPerOwnerMax.
func (g *Registry) CreateResource(ctx context.Context, r Resource, now time.Time) (Resource, error) {
	r.Accepts = slices.Clone(r.Accepts)
	if err := g.checkResource(&r); err != nil {
		return Resource{}, err
	}
	r.CreatedAt, r.UpdatedAt = now.UTC(), now.UTC()
	g.mu.Lock()
	_, taken := g.resources[r.ID]
	if !taken && len(g.owned[r.Owner])+g.pending[r.Owner] >= ResourcesPerOwnerMax {
		g.mu.Unlock()
		return Resource{}, &LimitError{What: "resources per owner", Max: ResourcesPerOwnerMax}
	}
	g.pending[r.Owner]++
	g.mu.Unlock()
	// release ends the reservation; REQUIRES: g.mu held. The creation's
	// apply does it in the same critical section, so the two never count
	// one resource twice against the cap.
	release := func() {
		if g.pending[r.Owner]--; g.pending[r.Owner] == 0 {
			delete(g.pending, r.Owner)
		}
	}
	// The id is random; a collision is a programmer error, not input.
	var err error
	if taken {
		err = fmt.Errorf("registry: resource id %s is taken", r.ID)
	}
	var stored engine.Row
	if err == nil {
		stored, err = row(prefixResource+r.ID, r)
	}
	if err == nil {
		err = g.write(ctx, "resource "+r.ID, stored)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	release()
	if err != nil {
		return Resource{}, err
	}
	g.resources[r.ID] = &resourceRecord{resource: r}
	g.owned[r.Owner] = append(g.owned[r.Owner], r.ID)
	return r, nil
}

// ReplaceResource replaces the url, description, mime type and accepts of
// owner's resource id with r's at now; ErrNotFound if owner has no such
// resource.
func (g *Registry) ReplaceResource(ctx context.Context, owner, id string, r Resource, now time.Time) (Resource, error) {
	g.mu.RLock()
	record, ok := g.resources[id]
	g.mu.RUnlock()
	if !ok {
		return Resource{}, ErrNotFound
	}
	record.mu.Lock()
	defer record.mu.Unlock()
	g.mu.RLock()
	old := record.resource
	g.mu.RUnlock()
	if old.Owner != owner {
		return Resource{}, ErrNotFound
	}
	r.ID, r.Owner, r.CreatedAt, r.UpdatedAt = old.ID, old.Owner, old.CreatedAt, now.UTC()
	r.Accepts = slices.Clone(r.Accepts)
	if err := g.checkResource(&r); err != nil {
		return Resource{}, err
	}
	stored, err := row(prefixResource+r.ID, r)
	if err == nil {
		err = g.write(ctx, "resource "+r.ID, stored)
	}
	if err != nil {
		return Resource{}, err
	}
	g.mu.Lock()
	record.resource = r
	g.mu.Unlock()
	return r, nil
}

// Resource returns owner's resource id; ErrNotFound for another owner's.
func (g *Registry) Resource(owner, id string) (Resource, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	record, ok := g.resources[id]
	if !ok || record.resource.Owner != owner {
		return Resource{}, ErrNotFound
	}
	return record.resource, nil
}

// Resources returns a page of owner's resources in creation order: at most
// limit after the resource startingAfter ("" for the first page), and
// whether more follow. ErrNotFound if startingAfter is not owner's.
func (g *Registry) Resources(owner, startingAfter string, limit int) ([]Resource, bool, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	ids := g.owned[owner]
	if startingAfter != "" {
		i := slices.Index(ids, startingAfter)
		if i < 0 {
			return nil, false, ErrNotFound
		}
		ids = ids[i+1:]
	}
	more := len(ids) > limit
	ids = ids[:min(limit, len(ids))]
	out := make([]Resource, len(ids))
	for i, id := range ids {
		out[i] = g.resources[id].resource
	}
	return out, more, nil
}
