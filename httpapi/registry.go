package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/tollway/tollway/engine/registry"
)

// Limits of the registry routes, beyond engine/registry's.
const (
	// ResourcesPageDefault and ResourcesPageMax are GET /v1/resources'
	// page sizes.
	ResourcesPageDefault = 20
	ResourcesPageMax     = 100
	// prefixResource is the id prefix of resources.
	prefixResource = "res_"
)

// registerChain registers the chain in use and its USDC (GET /v1/networks,
// /v1/assets), at every start: it writes only the first time.
func registerChain(ctx context.Context, g *registry.Registry, config *Config) error {
	chain := config.Chain
	if chain == nil || chain.USDC == "" {
		return nil
	}
	usdc, ok := registry.CheckAddress(chain.USDC)
	if !ok {
		return fmt.Errorf("httpapi: the chain's USDC address %q is not an address", chain.USDC)
	}
	name := registry.NetworkName(config.ChainID)
	if config.Faucet != nil {
		name = "Tollway embedded chain"
	}
	network := registry.Network{ID: registry.NetworkID(config.ChainID), Name: name, ChainID: config.ChainID}
	asset := registry.Asset{Network: network.ID, Address: usdc, Symbol: "USDC", Name: "USD Coin", Decimals: 6,
		EIP712: &registry.EIP712Domain{Name: "USD Coin", Version: "2"}}
	if _, err := g.EnsureAsset(ctx, network, asset); err != nil {
		return fmt.Errorf("httpapi: register the chain's network and USDC: %w", err)
	}
	return nil
}

// registryError maps engine/registry's errors; others go to errorOf.
func registryError(err error, what string) *apiError {
	var (
		fields *registry.FieldsError
		limit  *registry.LimitError
	)
	switch {
	case errors.As(err, &fields):
		return validation(fields.Fields)
	case errors.As(err, &limit):
		return limitExceeded(fmt.Sprintf("at most %d %s", limit.Max, limit.What))
	case errors.Is(err, registry.ErrNotFound):
		return notFound(what)
	}
	return errorOf(err, what)
}

// ---- networks and assets

type networkJSON struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	ChainID uint64 `json:"chainId"`
	CAIP2   string `json:"caip2"`
}

func networkOf(n registry.Network) networkJSON {
	return networkJSON{ID: n.ID, Name: n.Name, ChainID: n.ChainID, CAIP2: n.ID}
}

// assetJSON is registry.Asset with eip712 null when absent.
type assetJSON struct {
	registry.Asset
	EIP712 *registry.EIP712Domain `json:"eip712"`
}

func (s *Server) listNetworks(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	networks := s.registry.Networks()
	data := make([]networkJSON, len(networks))
	for i, n := range networks {
		data[i] = networkOf(n)
	}
	s.writeJSON(ctx, fasthttp.StatusOK, map[string]any{"data": data})
	return nil
}

func (s *Server) getNetwork(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	// NB: the router hands the segment over as sent; clients that escape
	// the id's colon (eip155%3A1337) mean the same network.
	id, err := url.PathUnescape(pathID(ctx))
	if err != nil {
		return notFound("network")
	}
	n, err := s.registry.Network(id)
	if err != nil {
		return registryError(err, "network")
	}
	s.writeJSON(ctx, fasthttp.StatusOK, networkOf(n))
	return nil
}

func (s *Server) listAssets(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	network := ""
	if value := ctx.QueryArgs().Peek("network"); value != nil {
		network = string(value)
		if _, ok := registry.ParseNetworkID(network); !ok {
			return validation(map[string]string{"network": "must be a CAIP-2 EVM network id, eip155:<chainId>"})
		}
	}
	assets := s.registry.Assets(network)
	data := make([]assetJSON, len(assets))
	for i, a := range assets {
		data[i] = assetJSON{Asset: a, EIP712: a.EIP712}
	}
	s.writeJSON(ctx, fasthttp.StatusOK, map[string]any{"data": data})
	return nil
}

// putAsset is POST /v1/admin/assets: it registers an asset, or replaces
// the one of its network and address, registering the network if needed.
func (s *Server) putAsset(ctx *fasthttp.RequestCtx, c *call) *apiError {
	if apiErr := s.authenticateAdmin(ctx); apiErr != nil {
		return apiErr
	}
	r, apiErr := parseObject(ctx.PostBody())
	if apiErr != nil {
		return apiErr
	}
	var a registry.Asset
	a.Network, _ = r.string("network", true, 64)
	address, okAddress := r.string("address", true, 42)
	if a.Address, _ = registry.CheckAddress(address); okAddress && a.Address == "" {
		r.fail("address", "must be a 0x-prefixed 20-byte hex address")
	}
	a.Symbol, _ = r.string("symbol", true, registry.SymbolBytesMax)
	a.Name, _ = r.string("name", true, registry.AssetNameBytesMax)
	decimals, _ := r.integer("decimals", true, 0, registry.DecimalsMax)
	a.Decimals = uint8(decimals)
	if domain := r.nested("eip712", false); domain != nil {
		a.EIP712 = &registry.EIP712Domain{}
		a.EIP712.Name, _ = domain.string("name", true, registry.AssetNameBytesMax)
		a.EIP712.Version, _ = domain.string("version", true, registry.EIP712VersionBytesMax)
	}
	if !r.failed() {
		// The rules beyond the types: text, the network id.
		for field, why := range a.Check() {
			r.fail(field, why)
		}
	}
	apiErr = r.finish()
	r.release()
	if apiErr != nil {
		return apiErr
	}
	if done, apiErr := s.idempotent(ctx, c, "admin"); done || apiErr != nil {
		return apiErr
	}
	created, err := s.registry.PutAsset(ctxOf(ctx), a)
	if err != nil {
		return registryError(err, "asset")
	}
	status := fasthttp.StatusOK
	if created {
		status = fasthttp.StatusCreated
	}
	s.writeJSON(ctx, status, assetJSON{Asset: a, EIP712: a.EIP712})
	return nil
}

// ---- resources

type resourceJSON struct {
	registry.Resource
	CreatedAt string `json:"createdAt"`
	UpdatedAt string `json:"updatedAt"`
}

func resourceOf(r registry.Resource) resourceJSON {
	return resourceJSON{Resource: r, CreatedAt: timeJSON(r.CreatedAt), UpdatedAt: timeJSON(r.UpdatedAt)}
}

// decodeResource reads a resource's body: its types here, its rules in
// engine/registry (which names the same fields).
func decodeResource(body []byte) (registry.Resource, *apiError) {
	r, apiErr := parseObject(body)
	if apiErr != nil {
		return registry.Resource{}, apiErr
	}
	defer r.release()
	var resource registry.Resource
	resource.URL, _ = r.string("url", true, registry.URLBytesMax)
	resource.Description, _ = r.string("description", false, registry.DescriptionBytesMax)
	resource.MimeType, _ = r.string("mimeType", false, registry.MimeTypeBytesMax)
	items := r.array("accepts", true, registry.AcceptsMax)
	readers := make([]reader, len(items))
	for i, v := range items {
		item := r.item(&readers[i], "accepts", i, v)
		if item == nil {
			continue
		}
		resource.Accepts = append(resource.Accepts, readRequirement(item))
	}
	return resource, r.finish()
}

// readRequirement reads an x402 PaymentRequirements' fields and types.
func readRequirement(r *reader) registry.Requirement {
	var q registry.Requirement
	q.Scheme, _ = r.string("scheme", true, 32)
	q.Network, _ = r.string("network", true, 64)
	q.Amount, _ = r.string("amount", true, 80)
	q.Asset, _ = r.string("asset", true, 42)
	q.PayTo, _ = r.string("payTo", true, 42)
	timeout, _ := r.integer("maxTimeoutSeconds", true, 1, registry.MaxTimeoutSecondsMax)
	q.MaxTimeoutSeconds = uint32(timeout)
	if v := r.field("extra", false); v != nil {
		if v.Type() != fastjson.TypeObject {
			r.fail("extra", "must be an object")
		} else if extra := v.MarshalTo(nil); len(extra) > registry.ExtraBytesMax {
			r.fail("extra", fmt.Sprintf("must be at most %d bytes as compact JSON", registry.ExtraBytesMax))
		} else {
			q.Extra = json.RawMessage(extra)
		}
	}
	return q
}

func (s *Server) createResource(ctx *fasthttp.RequestCtx, c *call) *apiError {
	u, apiErr := s.authenticateUser(ctx)
	if apiErr != nil {
		return apiErr
	}
	resource, apiErr := decodeResource(ctx.PostBody())
	if apiErr != nil {
		return apiErr
	}
	if done, apiErr := s.idempotent(ctx, c, u.ID); done || apiErr != nil {
		return apiErr
	}
	resource.ID, resource.Owner = newID(prefixResource), u.ID
	created, err := s.registry.CreateResource(ctxOf(ctx), resource, s.now())
	if err != nil {
		return registryError(err, "resource")
	}
	s.writeJSON(ctx, fasthttp.StatusCreated, resourceOf(created))
	return nil
}

func (s *Server) replaceResource(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	u, apiErr := s.authenticateUser(ctx)
	if apiErr != nil {
		return apiErr
	}
	resource, apiErr := decodeResource(ctx.PostBody())
	if apiErr != nil {
		return apiErr
	}
	replaced, err := s.registry.ReplaceResource(ctxOf(ctx), u.ID, pathID(ctx), resource, s.now())
	if err != nil {
		return registryError(err, "resource")
	}
	s.writeJSON(ctx, fasthttp.StatusOK, resourceOf(replaced))
	return nil
}

func (s *Server) listResources(ctx *fasthttp.RequestCtx, _ *call) *apiError {
	u, apiErr := s.authenticateUser(ctx)
	if apiErr != nil {
		return apiErr
	}
	fields := map[string]string{}
	args := ctx.QueryArgs()
	limit := readPageLimit(args, fields, ResourcesPageDefault, ResourcesPageMax)
	after := readStartingAfter(args, fields, "a resource", prefixResource)
	if len(fields) > 0 {
		return validation(fields)
	}
	page, more, err := s.registry.Resources(u.ID, after, limit)
	if errors.Is(err, registry.ErrNotFound) {
		return validation(map[string]string{"startingAfter": "must be one of your resources"})
	}
	if err != nil {
		return registryError(err, "resource")
	}
	data := make([]resourceJSON, len(page))
	var next *string
	for i := range page {
		data[i] = resourceOf(page[i])
	}
	if more {
		next = &page[len(page)-1].ID
	}
	s.writeJSON(ctx, fasthttp.StatusOK, map[string]any{"data": data, "hasMore": more, "nextStartingAfter": next})
	return nil
}
