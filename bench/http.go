package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// HTTPConfig describes the fixture PrepareHTTP makes on a Tollway server.
type HTTPConfig struct {
	Target     string // base URL, e.g. http://127.0.0.1:8080
	AdminToken string
	Consumers  int // paying accounts, one API key each
	Suppliers  int
	// Scopes are the consumers' keys' scopes: charges:write when empty.
	Scopes []string
	// SupplierKeys gives each supplier a key too, with Scopes (to accept
	// sessions).
	SupplierKeys bool
}

// latencyMax bounds a request of the HTTP targets: its read and write
// timeouts.
const latencyMax = 10 * time.Second

// HTTPFixture is what PrepareHTTP made through the public API.
type HTTPFixture struct {
	Keys         []string // one secret key per consumer account
	Consumers    []string // the consumer account ids, in the order of Keys
	Suppliers    []string // supplier account ids
	SupplierKeys []string // one per supplier, with HTTPConfig.SupplierKeys
}

// setupConnections bounds the concurrency of fixture setup.
const setupConnections = 64

// consumersPerUser is how many consumer accounts one fixture user owns.
const consumersPerUser = 500

// PrepareHTTP creates, through the public API, one user owning Consumers
// funded accounts with a key each and Suppliers accounts: what any client
// would do, admin credit included.
func PrepareHTTP(ctx context.Context, cfg HTTPConfig) (*HTTPFixture, error) {
	c := &fasthttp.Client{MaxConnsPerHost: setupConnections}
	// A user owns at most 1000 accounts: sign up one per consumersPerUser.
	tokens := make([]string, cfg.Consumers/consumersPerUser+1)
	for i := range tokens {
		email := fmt.Sprintf("bench-%d-%d@example.com", time.Now().UnixNano(), i)
		password := "bench password"
		if _, err := call(c, cfg.Target+"/v1/auth/signup", "", map[string]string{"email": email, "password": password}, 201); err != nil {
			return nil, err
		}
		pair, err := call(c, cfg.Target+"/v1/auth/login", "", map[string]string{"email": email, "password": password}, 200)
		if err != nil {
			return nil, err
		}
		tokens[i], _ = pair["accessToken"].(string)
	}
	access := tokens[len(tokens)-1]
	fixture := &HTTPFixture{Keys: make([]string, cfg.Consumers), Consumers: make([]string, cfg.Consumers), Suppliers: make([]string, cfg.Suppliers)}
	for i := range cfg.Suppliers {
		v, err := call(c, cfg.Target+"/v1/accounts", access, map[string]string{"name": "supplier", "environment": "test"}, 201)
		if err != nil {
			return nil, err
		}
		fixture.Suppliers[i], _ = v["id"].(string)
		if cfg.SupplierKeys {
			key, err := createBenchKey(c, cfg, access, fixture.Suppliers[i])
			if err != nil {
				return nil, err
			}
			fixture.SupplierKeys = append(fixture.SupplierKeys, key)
		}
	}
	var failure atomic.Pointer[error]
	var next atomic.Int64
	var wg sync.WaitGroup
	for range setupConnections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < cfg.Consumers && failure.Load() == nil; i = int(next.Add(1)) - 1 {
				if err := prepareConsumer(c, cfg, tokens[i/consumersPerUser], fixture, i); err != nil {
					failure.Store(&err)
				}
			}
		}()
	}
	wg.Wait()
	if err := failure.Load(); err != nil {
		return nil, *err
	}
	return fixture, nil
}

func prepareConsumer(c *fasthttp.Client, cfg HTTPConfig, access string, fixture *HTTPFixture, i int) error {
	v, err := call(c, cfg.Target+"/v1/accounts", access, map[string]string{"name": "consumer", "environment": "test"}, 201)
	if err != nil {
		return err
	}
	account, _ := v["id"].(string)
	fixture.Consumers[i] = account
	if _, err := call(c, cfg.Target+"/v1/admin/accounts/"+account+"/credit", cfg.AdminToken, map[string]string{"amount": "1000000000000"}, 200); err != nil {
		return err
	}
	key, err := createBenchKey(c, cfg, access, account)
	fixture.Keys[i] = key
	return err
}

// createBenchKey makes a key of account with cfg's scopes and a rate limit
// no benchmark reaches.
func createBenchKey(c *fasthttp.Client, cfg HTTPConfig, access, account string) (string, error) {
	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = []string{"charges:write"}
	}
	key, err := call(c, cfg.Target+"/v1/accounts/"+account+"/keys", access, map[string]any{
		"label": "bench", "kind": "secret", "scopes": scopes,
		"rateLimit": map[string]int{"requests": 1_000_000, "perSeconds": 1},
	}, 201)
	if err != nil {
		return "", err
	}
	plaintext, _ := key["key"].(string)
	return plaintext, nil
}

// call POSTs body as JSON (GETs when body is nil) and decodes the answer,
// which must have status want.
func call(c *fasthttp.Client, url, token string, body any, want int) (map[string]any, error) {
	method := "POST"
	if body == nil {
		method = "GET"
	}
	request, response := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(request)
	defer fasthttp.ReleaseResponse(response)
	request.SetRequestURI(url)
	request.Header.SetMethod(method)
	if token != "" {
		request.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		encoded, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		request.Header.SetContentType("application/json")
		request.SetBody(encoded)
	}
	if err := c.DoTimeout(request, response, 30*time.Second); err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	if response.StatusCode() != want {
		return nil, fmt.Errorf("%s %s: %d %s", method, url, response.StatusCode(), response.Body())
	}
	var v map[string]any
	if err := json.Unmarshal(response.Body(), &v); err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	return v, nil
}

// chargeBody appends the JSON of one charge, or of a batch of n.
func chargeBody(buf []byte, to string, n int) []byte {
	one := func(buf []byte) []byte {
		buf = append(buf, `{"to":"`...)
		buf = append(buf, to...)
		return append(buf, `","amount":"1"}`...)
	}
	if n == 1 {
		return one(buf)
	}
	buf = append(buf, `{"charges":[`...)
	for i := range n {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = one(buf)
	}
	return append(buf, "]}"...)
}

func hostOf(url string) string {
	for _, scheme := range []string{"http://", "https://"} {
		if len(url) > len(scheme) && url[:len(scheme)] == scheme {
			return url[len(scheme):]
		}
	}
	return url
}
