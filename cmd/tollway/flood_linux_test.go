package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fileLimitEnv makes a child (beMain) lower its file limit, soft and hard,
// before it runs: `tollway serve` cannot raise it back.
const fileLimitEnv = "TOLLWAY_TEST_FILE_LIMIT"

func init() {
	if os.Getenv(beMain) != "1" || os.Getenv(fileLimitEnv) == "" {
		return
	}
	n, err := strconv.ParseUint(os.Getenv(fileLimitEnv), 10, 64)
	if err == nil {
		err = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: n})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lowering the file limit:", err)
		os.Exit(2)
	}
}

// floodClient speaks HTTP/1.1 on one raw connection.
type floodClient struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

func dialFlood(t *testing.T, addr, local string) (net.Conn, error) {
	dialer := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	return dialer.Dial("tcp", addr)
}

func (c *floodClient) do(method, path, token, body string) (int, string) {
	c.t.Helper()
	request := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: tollway\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", method, path, len(body))
	if token != "" {
		request += "Authorization: Bearer " + token + "\r\n"
	}
	c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.conn, request+"\r\n"+body); err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, string(data)
}

// TestServeSurvivesAConnectionFlood runs `tollway serve` in a child whose
// file limit is 256 and opens 300 idle connections to it from ten
// addresses. The server used to accept until it ran out of descriptors,
// and then exit ("accept4: too many open files"). Now it holds 128
// (256 less its reserve for the log) and answers the rest 503; a client
// connected before the flood is served through it, writes included, and
// once the flood ends new connections are served again.
func TestServeSurvivesAConnectionFlood(t *testing.T) {
	const fileLimit, connectionsMax, perIPMax, flood, floodAddresses = 256, 128, 64, 300, 10
	const adminToken = "adm_flood_test_token_0123456789abcdef"
	child := startServeChild(t, []string{fileLimitEnv + "=" + strconv.Itoa(fileLimit)}, "--admin-token", adminToken)
	addr, exited, stderr := child.addr, child.exited, child.stderr

	conn, err := dialFlood(t, addr, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := &floodClient{t: t, conn: conn, br: bufio.NewReader(conn)}
	status := func() map[string]float64 {
		code, body := client.do("GET", "/v1/status", "", "")
		var v struct{ Connections map[string]float64 }
		if err := json.Unmarshal([]byte(body), &v); code != 200 || err != nil {
			t.Fatalf("GET /v1/status = %d %s", code, body)
		}
		return v.Connections
	}
	if code, _ := client.do("GET", "/healthz", "", ""); code != 200 {
		t.Fatalf("GET /healthz before the flood = %d", code)
	}
	if c := status(); c["fileLimit"] != fileLimit || c["max"] != connectionsMax || c["perIPMax"] != perIPMax {
		t.Fatalf("status connections = %v, want fileLimit %d, max %d, perIPMax %d", c, fileLimit, connectionsMax, perIPMax)
	}

	var floodConns []net.Conn
	defer func() {
		for _, c := range floodConns {
			c.Close()
		}
	}()
	for i := range flood {
		c, err := dialFlood(t, addr, fmt.Sprintf("127.0.0.%d", 2+i%floodAddresses))
		if err != nil {
			select { // a refused dial: did the server exit?
			case <-exited:
				t.Fatalf("the server exited under the flood (%v) after %d connections:\n%s", child.err, i, stderr.String())
			case <-time.After(5 * time.Second):
				t.Fatalf("flood connection %d: %v", i, err)
			}
		}
		floodConns = append(floodConns, c)
	}
	// Wait until the server has taken all of them: connectionsMax open (the
	// client's and 127 idle ones), the other 173 refused.
	rejected := 0.0
	for deadline := time.Now().Add(20 * time.Second); ; {
		select {
		case <-exited:
			t.Fatalf("the server exited under the flood: %v\n%s", child.err, stderr.String())
		default:
		}
		code, body := client.do("GET", "/metrics", adminToken, "")
		if code != 200 {
			t.Fatalf("GET /metrics = %d %s", code, body)
		}
		for _, line := range strings.Split(body, "\n") {
			if value, ok := strings.CutPrefix(line, "tollway_http_connections_rejected_total "); ok {
				rejected, _ = strconv.ParseFloat(value, 64)
			}
		}
		if rejected == flood-connectionsMax+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v connections refused, want %d", rejected, flood-connectionsMax+1)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	if c := status(); c["open"] != connectionsMax {
		t.Fatalf("open connections = %v during the flood, want %d", c["open"], connectionsMax)
	}
	// The client connected before the flood is served, writes included.
	if code, _ := client.do("GET", "/healthz", "", ""); code != 200 {
		t.Fatalf("GET /healthz during the flood = %d", code)
	}
	if code, body := client.do("POST", "/v1/auth/signup", "", `{"email":"flood@example.com","password":"correct horse battery"}`); code != 201 {
		t.Fatalf("POST /v1/auth/signup during the flood = %d %s", code, body)
	}

	// The flood ends; a new client is served.
	for _, c := range floodConns {
		c.Close()
	}
	floodConns = nil
	for deadline := time.Now().Add(20 * time.Second); status()["open"] != 1; {
		if time.Now().After(deadline) {
			t.Fatalf("open connections = %v after the flood closed, want 1", status()["open"])
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
	fresh, err := dialFlood(t, addr, "127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	freshClient := &floodClient{t: t, conn: fresh, br: bufio.NewReader(fresh)}
	if code, body := freshClient.do("POST", "/v1/auth/login", "", `{"email":"flood@example.com","password":"correct horse battery"}`); code != 200 {
		t.Fatalf("POST /v1/auth/login after the flood = %d %s", code, body)
	}

	select {
	case <-exited:
		t.Fatalf("the server exited: %v\n%s", child.err, stderr.String())
	default:
	}
	child.cmd.Process.Signal(syscall.SIGTERM)
	<-exited
	if child.err != nil {
		t.Fatalf("the server's exit after SIGTERM = %v, want 0\n%s", child.err, stderr.String())
	}
}
