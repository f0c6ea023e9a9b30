package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/tollway/tollway/engine"
)

// memoryTable is a Table in memory that counts its writes and can fail them.
type memoryTable struct {
	mu     sync.Mutex
	rows   map[string][]byte
	writes int
	fail   error
}

func newMemoryTable() *memoryTable { return &memoryTable{rows: map[string][]byte{}} }

func (m *memoryTable) WriteRows(_ context.Context, rows ...engine.Row) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return 0, m.fail
	}
	m.writes++
	for _, row := range rows {
		m.rows[string(row.Key)] = bytes.Clone(row.Value)
	}
	return uint64(m.writes), nil
}

func (m *memoryTable) ScanRows(prefix []byte, fn func(key, value []byte) error) error {
	m.mu.Lock()
	keys := make([]string, 0, len(m.rows))
	for key := range m.rows {
		if bytes.HasPrefix([]byte(key), prefix) {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	m.mu.Unlock()
	for _, key := range keys {
		if err := fn([]byte(key), m.rows[key]); err != nil {
			return err
		}
	}
	return nil
}

func (m *memoryTable) writeCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}

func loaded(t *testing.T, table Table) *Registry {
	t.Helper()
	g := New(table)
	if err := g.Load(); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return g
}

const (
	usdc  = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
	payTo = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
)

var (
	chainNetwork = Network{ID: "eip155:1337", Name: "Local chain 1337", ChainID: 1337}
	chainUSDC    = Asset{Network: "eip155:1337", Address: usdc, Symbol: "USDC", Name: "USD Coin", Decimals: 6,
		EIP712: &EIP712Domain{Name: "USD Coin", Version: "2"}}
)

func TestParseNetworkIDTakesOnlyCanonicalEIP155Ids(t *testing.T) {
	for _, c := range []struct {
		id   string
		want uint64
		ok   bool
	}{
		{"eip155:1", 1, true}, {"eip155:1337", 1337, true}, {"eip155:18446744073709551615", 1<<64 - 1, true},
		{"eip155:0", 0, false}, {"eip155:01", 0, false}, {"eip155:", 0, false}, {"eip155:+1", 0, false},
		{"eip155:1a", 0, false}, {"eip155:18446744073709551616", 0, false}, {"EIP155:1", 0, false},
		{"solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp", 0, false}, {"base", 0, false}, {"", 0, false},
	} {
		if got, ok := ParseNetworkID(c.id); got != c.want || ok != c.ok {
			t.Errorf("ParseNetworkID(%q) = %d, %v, want %d, %v", c.id, got, ok, c.want, c.ok)
		}
	}
}

func TestCheckAmountTakesPositiveCanonicalUint256(t *testing.T) {
	max := "115792089237316195423570985008687907853269984665640564039457584007913129639935"
	above := "115792089237316195423570985008687907853269984665640564039457584007913129639936"
	for _, c := range []struct {
		amount string
		want   bool
	}{
		{"1", true}, {"10000", true}, {max, true},
		{"0", false}, {"", false}, {"01", false}, {"-1", false}, {"1.0", false}, {"1e6", false}, {" 1", false}, {above, false},
	} {
		if got := checkAmount(c.amount); got != c.want {
			t.Errorf("checkAmount(%q) = %v, want %v", c.amount, got, c.want)
		}
	}
}

func TestEnsureAssetWritesOnlyTheFirstTimeAcrossLoads(t *testing.T) {
	table := newMemoryTable()
	for i := range 3 {
		g := loaded(t, table)
		wrote, err := g.EnsureAsset(context.Background(), chainNetwork, chainUSDC)
		if err != nil || wrote != (i == 0) {
			t.Fatalf("EnsureAsset (start %d) = %v, %v, want %v, nil", i, wrote, err, i == 0)
		}
		if n := table.writeCount(); n != 1 {
			t.Fatalf("writes after start %d = %d, want 1", i, n)
		}
		if got := g.Networks(); !slices.Equal(got, []Network{chainNetwork}) {
			t.Fatalf("Networks = %v", got)
		}
		if got := g.Assets(""); len(got) != 1 || !equalAsset(got[0], chainUSDC) {
			t.Fatalf("Assets = %v", got)
		}
	}
	g := loaded(t, table)
	renamed := chainUSDC
	renamed.Name = "Test USD"
	if created, err := g.PutAsset(context.Background(), renamed); err != nil || created {
		t.Fatalf("PutAsset(renamed) = %v, %v, want false, nil", created, err)
	}
	if wrote, err := loaded(t, table).EnsureAsset(context.Background(), chainNetwork, chainUSDC); err != nil || wrote {
		t.Fatalf("EnsureAsset after a rename = %v, %v, want false, nil (the admin's change stays)", wrote, err)
	}
	if a, _ := loaded(t, table).Asset("eip155:1337", usdc); a.Name != "Test USD" {
		t.Fatalf("asset = %+v, want the admin's name", a)
	}
}

func TestPutAssetRegistersItsNetworkWithinTheCaps(t *testing.T) {
	ctx := context.Background()
	table := newMemoryTable()
	g := loaded(t, table)
	asset := func(chainID uint64, i int) Asset {
		address, _ := CheckAddress(fmt.Sprintf("0x%040x", i))
		return Asset{Network: NetworkID(chainID), Address: address, Symbol: "T", Name: "Token", Decimals: 18}
	}
	if _, err := g.PutAsset(ctx, Asset{Network: "eip155:1", Address: usdc, Symbol: "", Name: "x", Decimals: 37}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("PutAsset(invalid) = %v, want ErrInvalid", err)
	}
	for chainID := uint64(1); chainID <= NetworksMax; chainID++ {
		if created, err := g.PutAsset(ctx, asset(chainID, 1)); err != nil || !created {
			t.Fatalf("PutAsset on network %d = %v, %v", chainID, created, err)
		}
	}
	var limit *LimitError
	if _, err := g.PutAsset(ctx, asset(NetworksMax+1, 1)); !errors.As(err, &limit) || limit.Max != NetworksMax {
		t.Fatalf("PutAsset on network %d = %v, want a LimitError of %d networks", NetworksMax+1, err, NetworksMax)
	}
	if n, err := g.Network("eip155:1"); err != nil || n.Name != "Ethereum" || n.ChainID != 1 {
		t.Fatalf("Network(eip155:1) = %+v, %v", n, err)
	}
	for i := 2; i <= AssetsPerNetworkMax; i++ {
		if _, err := g.PutAsset(ctx, asset(1, i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := g.PutAsset(ctx, asset(1, AssetsPerNetworkMax+1)); !errors.As(err, &limit) || limit.Max != AssetsPerNetworkMax {
		t.Fatalf("PutAsset past the network's assets = %v, want a LimitError", err)
	}
	// Replacing an asset needs no new place.
	replaced := asset(1, 1)
	replaced.Symbol = "U"
	if created, err := g.PutAsset(ctx, replaced); err != nil || created {
		t.Fatalf("PutAsset(replace) = %v, %v", created, err)
	}
	writes := table.writeCount()
	if _, err := g.PutAsset(ctx, replaced); err != nil || table.writeCount() != writes {
		t.Fatalf("PutAsset(the same) = %v and wrote %d times, want nil and no write", err, table.writeCount()-writes)
	}
	// A failed write changes nothing in memory.
	table.fail = engine.ErrUnavailable
	if _, err := g.PutAsset(ctx, asset(2, 2)); !errors.Is(err, engine.ErrUnavailable) {
		t.Fatalf("PutAsset with a failing table = %v, want ErrUnavailable", err)
	}
	table.fail = nil
	if _, ok := g.Asset(NetworkID(2), asset(2, 2).Address); ok {
		t.Fatal("an asset whose write failed is registered")
	}
	again := loaded(t, table)
	if len(again.Networks()) != NetworksMax || len(again.Assets("eip155:1")) != AssetsPerNetworkMax || len(again.Assets("")) != NetworksMax-1+AssetsPerNetworkMax {
		t.Fatalf("after Load: %d networks, %d assets", len(again.Networks()), len(again.Assets("")))
	}
	if a, _ := again.Asset("eip155:1", replaced.Address); a.Symbol != "U" {
		t.Fatalf("replaced asset after Load = %+v", a)
	}
}

func resource(owner, id string) Resource {
	return Resource{ID: id, Owner: owner, URL: "https://example.com/" + id, Accepts: []Requirement{{
		Scheme: SchemeExact, Network: "eip155:1337", Amount: "10000", Asset: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
		PayTo: "0x70997970c51812dc3a010c7d01b50e0d17dc79c8", MaxTimeoutSeconds: 60}}}
}

func TestResourcesAreCappedPerOwnerUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	g := loaded(t, newMemoryTable())
	if _, err := g.EnsureAsset(ctx, chainNetwork, chainUSDC); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 5, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, ResourcesPerOwnerMax+50)
	for i := range ResourcesPerOwnerMax + 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := g.CreateResource(ctx, resource("usr_a", fmt.Sprintf("res_%04d", i)), now)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	refused := 0
	for err := range errs {
		switch {
		case errors.Is(err, ErrLimitExceeded):
			refused++
		case err != nil:
			t.Fatal(err)
		}
	}
	page, more, err := g.Resources("usr_a", "", ResourcesPerOwnerMax+1)
	if refused != 50 || len(page) != ResourcesPerOwnerMax || more || err != nil {
		t.Fatalf("refused %d, listed %d (more %v, %v), want 50 and %d", refused, len(page), more, err, ResourcesPerOwnerMax)
	}
	if _, err := g.CreateResource(ctx, resource("usr_b", "res_b"), now); err != nil {
		t.Fatalf("another owner's creation = %v", err)
	}
}

func TestResourcesAreCheckedNormalizedOwnedAndPaged(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	eng, err := engine.Open(engine.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	g := loaded(t, eng)
	if _, err := g.EnsureAsset(ctx, chainNetwork, chainUSDC); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 5, 0, 0, 0, time.UTC)
	bad := resource("usr_a", "res_bad")
	bad.Accepts = append(bad.Accepts, Requirement{Scheme: "upto"})
	bad.Accepts[0].Network = "eip155:1"
	var fields *FieldsError
	if _, err := g.CreateResource(ctx, bad, now); !errors.As(err, &fields) || len(fields.Fields) != 7 ||
		fields.Fields["accepts[0].network"] == "" || fields.Fields["accepts[1].scheme"] == "" {
		t.Fatalf("CreateResource(bad) = %v (%v), want 7 field errors", err, fields)
	}
	if bad.Accepts[0].PayTo != "0x70997970c51812dc3a010c7d01b50e0d17dc79c8" {
		t.Fatal("CreateResource changed its argument's requirements")
	}
	ids := []string{"res_c", "res_a", "res_b"} // creation order differs from id order
	for i, id := range ids {
		r, err := g.CreateResource(ctx, resource("usr_a", id), now.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if r.Accepts[0].Asset != usdc || r.Accepts[0].PayTo != payTo || !r.CreatedAt.Equal(r.UpdatedAt) {
			t.Fatalf("created = %+v, want EIP-55 addresses", r)
		}
	}
	replacement := resource("usr_x", "res_ignored")
	replacement.URL = "http://localhost/paid"
	if _, err := g.ReplaceResource(ctx, "usr_b", "res_a", replacement, now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ReplaceResource of another owner's = %v, want ErrNotFound", err)
	}
	replaced, err := g.ReplaceResource(ctx, "usr_a", "res_a", replacement, now.Add(time.Hour))
	if err != nil || replaced.ID != "res_a" || replaced.Owner != "usr_a" || replaced.URL != "http://localhost/paid" ||
		!replaced.CreatedAt.Equal(now.Add(time.Second)) || !replaced.UpdatedAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("ReplaceResource = %+v, %v", replaced, err)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	eng, err = engine.Open(engine.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	g = loaded(t, eng)
	page, more, err := g.Resources("usr_a", "", 2)
	if err != nil || !more || len(page) != 2 || page[0].ID != "res_c" || page[1].ID != "res_a" || page[1].URL != "http://localhost/paid" {
		t.Fatalf("first page after a restart = %+v, %v, %v", page, more, err)
	}
	page, more, err = g.Resources("usr_a", "res_a", 2)
	if err != nil || more || len(page) != 1 || page[0].ID != "res_b" {
		t.Fatalf("second page = %+v, %v, %v", page, more, err)
	}
	if _, _, err := g.Resources("usr_b", "res_a", 2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a page after another owner's resource = %v, want ErrNotFound", err)
	}
	if _, err := g.Resource("usr_b", "res_a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Resource of another owner's = %v", err)
	}
}

func TestLoadRefusesAnAssetOfAnUnregisteredNetwork(t *testing.T) {
	table := newMemoryTable()
	table.rows[prefixAsset+"eip155:1337/"+usdc] = []byte(`{"network":"eip155:1337","address":"` + usdc + `","symbol":"USDC","name":"USD Coin","decimals":6}`)
	if err := New(table).Load(); err == nil {
		t.Fatal("Load accepted an asset whose network is not registered")
	}
}
