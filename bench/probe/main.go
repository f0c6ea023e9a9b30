// Command probe attacks a built tollway binary the way a hostile client
// would, and says whether the server held: the black-box probes of the
// hardening work (issue 16), each against a fresh server on a temporary
// data directory. It is a tool for people, not a test: it needs a built
// binary and prlimit(1), takes a few minutes, and its thresholds are
// generous because the machine is shared.
//
//	go build -o bin/tollway ./cmd/tollway && go run ./bench/probe -bin bin/tollway
//
// Probes: flood (more connections than the file limit), slowbody (bodies
// declared large and never sent), store (idempotent-response spam), siwe
// (a challenge flood), auth (a login flood beside a paying client), caps
// (racing account creators), tail (a corrupted log tail after a clean stop).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var (
	binary = flag.String("bin", "./bin/tollway", "the tollway binary to probe")
	only   = flag.String("only", "", "comma-separated probes to run (default: all)")
)

// startTimeout bounds a server's start; settle is how long a probe lets
// the server react before it measures (the server's own timeouts are
// seconds long, so this is a tool with waits, not a test).
const (
	startTimeout = 60 * time.Second
	settle       = 2 * time.Second
)

func main() {
	flag.Parse()
	probes := []struct {
		name string
		run  func() (bool, string)
	}{
		{"flood", probeFlood}, {"slowbody", probeSlowBody}, {"store", probeStore}, {"siwe", probeSIWE},
		{"auth", probeAuth}, {"caps", probeCaps}, {"tail", probeTail},
	}
	failed := false
	for _, p := range probes {
		if *only != "" && !slices.Contains(strings.Split(*only, ","), p.name) {
			continue
		}
		ok, detail := p.run()
		verdict := "PASS"
		if !ok {
			verdict, failed = "FAIL", true
		}
		fmt.Printf("%s %-9s %s\n", verdict, p.name, detail)
	}
	for _, dir := range temporaryDirs {
		os.RemoveAll(dir)
	}
	if failed {
		os.Exit(1)
	}
}

// ---- a server under probe

type server struct {
	cmd     *exec.Cmd
	dir     string
	address string // host:port
	admin   string
	stderr  *bytes.Buffer
	exited  chan struct{}
}

var portNext atomic.Int32

// start runs tollway serve on dir, under a file limit of nofile (soft and
// hard) when positive, and waits until it listens or exits.
func start(dir string, nofile int, args ...string) (*server, error) {
	address := fmt.Sprintf("127.0.0.1:%d", 18100+portNext.Add(1))
	argv := append([]string{*binary, "serve", "--data", dir, "--listen", address, "--chain", "none"}, args...)
	if nofile > 0 {
		argv = append([]string{"prlimit", fmt.Sprintf("--nofile=%d:%d", nofile, nofile)}, argv...)
	}
	s := &server{cmd: exec.Command(argv[0], argv[1:]...), dir: dir, address: address, stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	lines := make(chan string)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			lines <- scanner.Text()
		}
		close(lines)
	}()
	go func() { s.cmd.Wait(); close(s.exited) }()
	adminLine := regexp.MustCompile(`admin token.*: (adm_\w+)`)
	deadline := time.After(startTimeout)
	listening := false
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				return s, nil // exited: the caller asks alive()
			}
			if m := adminLine.FindStringSubmatch(line); m != nil {
				s.admin = m[1]
			}
			listening = listening || strings.Contains(line, "listening on")
			if listening && s.admin != "" {
				go func() {
					for range lines {
					}
				}()
				return s, nil
			}
			if listening {
				// The admin token line follows at once on a first start,
				// never on a later one.
				deadline = time.After(settle / 4)
			}
		case <-deadline:
			if listening {
				go func() {
					for range lines {
					}
				}()
				return s, nil
			}
			s.kill()
			return nil, fmt.Errorf("tollway did not start within %v: %s", startTimeout, s.stderr)
		}
	}
}

func (s *server) alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

func (s *server) stop() {
	if s.alive() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(20 * time.Second):
			s.kill()
		}
	}
}

func (s *server) kill() { _ = s.cmd.Process.Kill(); <-s.exited }

// residentMiB is the server's resident memory.
func (s *server) residentMiB() float64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if fields := strings.Fields(line); len(fields) >= 2 && fields[0] == "VmRSS:" {
			kib, _ := strconv.Atoi(fields[1])
			return float64(kib) / 1024
		}
	}
	return -1
}

// clientFrom returns an HTTP client whose connections come from ip (any
// 127.0.0.0/8 address reaches the server): another client than the probe.
func clientFrom(ip string) *http.Client {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 64}}
}

var prober = clientFrom("127.0.0.1")

// do sends a JSON request; headers alternate names and values. A status of
// -1 is a transport error.
func (s *server) do(c *http.Client, method, path, token string, body any, headers ...string) (int, map[string]any) {
	var reader io.Reader
	if body != nil {
		encoded, _ := json.Marshal(body)
		reader = bytes.NewReader(encoded)
	}
	request, _ := http.NewRequest(method, "http://"+s.address+path, reader)
	request.Header.Set("Content-Type", "application/json")
	if token != "" {
		request.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		request.Header.Set(headers[i], headers[i+1])
	}
	response, err := c.Do(request)
	if err != nil {
		return -1, nil
	}
	defer response.Body.Close()
	var v map[string]any
	_ = json.NewDecoder(response.Body).Decode(&v)
	return response.StatusCode, v
}

// market is a signed-up user with a payer (funded when asked), a payee and
// a key of the payer that may do anything.
type market struct{ token, payer, payee, key string }

func (s *server) market(email string, funds string) market {
	credentials := map[string]string{"email": email, "password": "a long password"}
	s.do(prober, "POST", "/v1/auth/signup", "", credentials)
	_, login := s.do(prober, "POST", "/v1/auth/login", "", credentials)
	m := market{token: fmt.Sprint(login["accessToken"])}
	_, payer := s.do(prober, "POST", "/v1/accounts", m.token, map[string]string{"name": "payer", "environment": "test"})
	_, payee := s.do(prober, "POST", "/v1/accounts", m.token, map[string]string{"name": "payee", "environment": "test"})
	m.payer, m.payee = fmt.Sprint(payer["id"]), fmt.Sprint(payee["id"])
	if funds != "" {
		s.do(prober, "POST", "/v1/admin/accounts/"+m.payer+"/credit", s.admin, map[string]string{"amount": funds})
	}
	_, key := s.do(prober, "POST", "/v1/accounts/"+m.payer+"/keys", m.token, map[string]any{
		"label": "probe", "kind": "secret", "scopes": []string{"*"}, "rateLimit": map[string]int{"requests": 1_000_000, "perSeconds": 1}})
	m.key = fmt.Sprint(key["key"])
	return m
}

// temporaryDirs are removed when the probes end.
var temporaryDirs []string

func temporaryDir() string {
	dir, err := os.MkdirTemp("", "tollway-probe-*")
	if err != nil {
		panic(err)
	}
	temporaryDirs = append(temporaryDirs, dir)
	return dir
}

// ---- the probes

// probeFlood opens more connections than the server's file limit, then
// asks from another address while the flood holds, and again after it.
func probeFlood() (bool, string) {
	const fileLimit, floodConnections = 1024, 1200
	s, err := start(temporaryDir(), fileLimit)
	if err != nil {
		return false, err.Error()
	}
	defer s.stop()
	var flood []net.Conn
	for range floodConnections {
		c, err := net.DialTimeout("tcp", s.address, 2*time.Second)
		if err != nil {
			break
		}
		flood = append(flood, c)
	}
	time.Sleep(settle)
	during, _ := s.do(clientFrom("127.0.0.2"), "GET", "/healthz", "", nil)
	for _, c := range flood {
		c.Close()
	}
	time.Sleep(settle / 4)
	after, _ := s.do(prober, "GET", "/healthz", "", nil)
	return s.alive() && during == 200 && after == 200,
		fmt.Sprintf("%d connections under a file limit of %d: server alive %v; another address during the flood: %d, after: %d",
			len(flood), fileLimit, s.alive(), during, after)
}

// probeSlowBody declares 1 MB bodies and sends one byte, on a small route
// and on the batch route, and watches the server's memory.
func probeSlowBody() (bool, string) {
	s, err := start(temporaryDir(), 0)
	if err != nil {
		return false, err.Error()
	}
	defer s.stop()
	hold := func(path string, n int) []net.Conn {
		var conns []net.Conn
		for range n {
			c, err := net.Dial("tcp", s.address)
			if err != nil {
				break
			}
			fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{", path)
			conns = append(conns, c)
		}
		time.Sleep(settle)
		return conns
	}
	closeAll := func(conns []net.Conn) {
		for _, c := range conns {
			c.Close()
		}
	}
	before := s.residentMiB()
	small := hold("/v1/auth/signup", 1000)
	withSmall := s.residentMiB()
	closeAll(small)
	batch := hold("/v1/charges/batch", 300)
	withBatch := s.residentMiB()
	closeAll(batch)
	status, _ := s.do(prober, "GET", "/healthz", "", nil)
	// Unbounded, these held 1000 MiB and 300 MiB.
	return withSmall-before < 100 && withBatch-before < 200 && status == 200,
		fmt.Sprintf("resident MiB: %.0f before, %.0f with 1000 small-route bodies pending, %.0f with 300 batch bodies pending",
			before, withSmall, withBatch)
}

// probeStore sends batches of 1000 unfunded charges, each with a new
// Idempotency-Key, from one free user.
func probeStore() (bool, string) {
	const senders, batchesPerSender = 8, 250
	s, err := start(temporaryDir(), 0)
	if err != nil {
		return false, err.Error()
	}
	defer s.stop()
	m := s.market("spam@example.com", "")
	items := make([]map[string]string, 1000)
	for i := range items {
		items[i] = map[string]string{"to": m.payee, "amount": "1000"}
	}
	before := s.residentMiB()
	var wg sync.WaitGroup
	var ok atomic.Int64
	for sender := range senders {
		wg.Go(func() {
			for i := range batchesPerSender {
				status, _ := s.do(prober, "POST", "/v1/charges/batch", m.key, map[string]any{"charges": items},
					"Idempotency-Key", fmt.Sprintf("spam-%d-%d", sender, i))
				if status == 200 {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	after := s.residentMiB()
	// Unbounded, the store grew by about 260 KB per batch: 520 MB here.
	return after-before < 150, fmt.Sprintf("%d batches of 1000 unfunded charges (%d answered 200): resident %.0f -> %.0f MiB",
		senders*batchesPerSender, ok.Load(), before, after)
}

// probeSIWE asks for over 100,000 challenges from one address, then for one
// from another address, before and after a restart.
func probeSIWE() (bool, string) {
	const askers, challengesPerAsker = 16, 6500
	s, err := start(temporaryDir(), 0)
	if err != nil {
		return false, err.Error()
	}
	var granted, limited atomic.Int64
	var wg sync.WaitGroup
	for asker := range askers {
		wg.Go(func() {
			for i := range challengesPerAsker {
				address := fmt.Sprintf("0x%040x", asker*100_000+i+1)
				switch status, _ := s.do(prober, "POST", "/v1/auth/siwe/challenge", "", map[string]string{"address": address}); status {
				case 200:
					granted.Add(1)
				case 429:
					limited.Add(1)
				}
			}
		})
	}
	wg.Wait()
	other := clientFrom("127.0.0.2")
	victim := map[string]string{"address": "0x00000000000000000000000000000000deadbeef"}
	during, _ := s.do(other, "POST", "/v1/auth/siwe/challenge", "", victim)
	s.stop()
	if s, err = start(s.dir, 0); err != nil {
		return false, err.Error()
	}
	defer s.stop()
	after, _ := s.do(other, "POST", "/v1/auth/siwe/challenge", "", victim)
	return during == 200 && after == 200,
		fmt.Sprintf("%d challenges asked from one address (%d granted, %d refused 429); another address: %d, after a restart: %d",
			askers*challengesPerAsker, granted.Load(), limited.Load(), during, after)
}

// probeAuth guesses passwords from 32 callers while a client charges, and
// compares the charges' p99 with and without them.
func probeAuth() (bool, string) {
	const guessers = 32
	s, err := start(temporaryDir(), 0)
	if err != nil {
		return false, err.Error()
	}
	defer s.stop()
	m := s.market("legit@example.com", "100000000000")
	s.do(prober, "POST", "/v1/auth/signup", "", map[string]string{"email": "victim@example.com", "password": "a long password"})
	payer := clientFrom("127.0.0.3")
	var sequence atomic.Int64
	p99 := func(d time.Duration) time.Duration {
		var latencies []time.Duration
		for end := time.Now().Add(d); time.Now().Before(end); {
			begun := time.Now()
			status, _ := s.do(payer, "POST", "/v1/charges", m.key, map[string]string{"to": m.payee, "amount": "1"},
				"Idempotency-Key", fmt.Sprintf("charge-%d", sequence.Add(1)))
			if status == 201 {
				latencies = append(latencies, time.Since(begun))
			}
		}
		if len(latencies) == 0 {
			return -1
		}
		slices.Sort(latencies)
		return latencies[len(latencies)*99/100]
	}
	alone := p99(3 * time.Second)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var guesses, refused atomic.Int64
	for guesser := range guessers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				status, _ := s.do(prober, "POST", "/v1/auth/login", "", map[string]string{"email": "victim@example.com", "password": fmt.Sprintf("guess-%d-%d", guesser, i)})
				guesses.Add(1)
				if status == 429 {
					refused.Add(1)
				}
			}
		})
	}
	flooded := p99(5 * time.Second)
	close(stop)
	wg.Wait()
	login, _ := s.do(clientFrom("127.0.0.2"), "POST", "/v1/auth/login", "", map[string]string{"email": "legit@example.com", "password": "a long password"})
	// Unthrottled, the p99 went from 4 ms to 678 ms.
	return alone > 0 && flooded > 0 && flooded < 100*time.Millisecond && login == 200,
		fmt.Sprintf("charge p99 %v alone, %v beside %d login guessers (%d guesses, %d refused 429); another user's login: %d",
			alone.Round(10*time.Microsecond), flooded.Round(10*time.Microsecond), guessers, guesses.Load(), refused.Load(), login)
}

// probeCaps creates accounts from 32 callers at once, past the per-user cap.
func probeCaps() (bool, string) {
	const creators, creationsPerCreator, accountsPerUserMax = 32, 50, 1000
	s, err := start(temporaryDir(), 0)
	if err != nil {
		return false, err.Error()
	}
	defer s.stop()
	credentials := map[string]string{"email": "caps@example.com", "password": "a long password"}
	s.do(prober, "POST", "/v1/auth/signup", "", credentials)
	_, login := s.do(prober, "POST", "/v1/auth/login", "", credentials)
	token := fmt.Sprint(login["accessToken"])
	var created atomic.Int64
	var wg sync.WaitGroup
	for range creators {
		wg.Go(func() {
			for range creationsPerCreator {
				if status, _ := s.do(prober, "POST", "/v1/accounts", token, map[string]string{"name": "a", "environment": "test"}); status == 201 {
					created.Add(1)
				}
			}
		})
	}
	wg.Wait()
	_, list := s.do(prober, "GET", "/v1/accounts", token, nil)
	listed := -1
	for _, field := range []string{"data", "accounts"} {
		if items, ok := list[field].([]any); ok {
			listed = len(items)
		}
	}
	return created.Load() == accountsPerUserMax && listed == accountsPerUserMax,
		fmt.Sprintf("%d concurrent creations against a cap of %d: %d created, %d listed",
			creators*creationsPerCreator, accountsPerUserMax, created.Load(), listed)
}

// probeTail charges, stops the server cleanly, flips 8 bytes near the end of
// the newest Pebble WAL, and starts it again: it must refuse.
func probeTail() (bool, string) {
	const charges = 5100
	dir := temporaryDir()
	s, err := start(dir, 0)
	if err != nil {
		return false, err.Error()
	}
	m := s.market("tail@example.com", "100000000000")
	for i := range charges {
		s.do(prober, "POST", "/v1/charges", m.key, map[string]string{"to": m.payee, "amount": "1"}, "Idempotency-Key", fmt.Sprintf("tail-%d", i))
	}
	s.stop()
	var newest string
	var newestTime time.Time
	_ = filepath.WalkDir(dir, func(path string, entry os.DirEntry, err error) error {
		if info, infoErr := entry.Info(); err == nil && infoErr == nil && strings.HasSuffix(path, ".log") && info.ModTime().After(newestTime) {
			newest, newestTime = path, info.ModTime()
		}
		return nil
	})
	file, err := os.OpenFile(newest, os.O_RDWR, 0)
	if err != nil {
		return false, fmt.Sprintf("no WAL to corrupt: %v", err)
	}
	info, _ := file.Stat()
	_, err = file.WriteAt([]byte{0xde, 0xad, 0xbe, 0xef, 0xde, 0xad, 0xbe, 0xef}, max(0, info.Size()-200))
	file.Close()
	if err != nil {
		return false, err.Error()
	}
	s, err = start(dir, 0)
	if err != nil {
		return false, err.Error()
	}
	<-time.After(settle)
	refused := !s.alive()
	s.stop()
	message := strings.TrimSpace(s.stderr.String())
	if i := strings.LastIndexByte(message, '\n'); i >= 0 {
		message = message[i+1:]
	}
	return refused, fmt.Sprintf("%d charges, 8 bytes flipped in %s: refused to start: %v (%q)", charges, filepath.Base(newest), refused, message)
}
