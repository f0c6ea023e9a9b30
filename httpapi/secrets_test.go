package httpapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
)

func openSecretsEngine(t *testing.T, dir string) *engine.Engine {
	t.Helper()
	eng, err := engine.Open(engine.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// serverRows returns the rows of the server's key space.
func serverRows(t *testing.T, eng *engine.Engine) map[string][]byte {
	t.Helper()
	rows := map[string][]byte{}
	err := eng.ScanRows([]byte(access.PrefixServer), func(key, value []byte) error {
		rows[string(key)] = bytes.Clone(value)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestSecretsStayOutOfTheLog: generated secrets are kept in their own 0600
// file in the 0700 data directory, and no other file holds them, in raw
// bytes or base64, after writes, a snapshot and a reopen. They used to be
// rows of the engine's table: plaintext in the WAL, readable by anyone.
func TestSecretsStayOutOfTheLog(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	eng := openSecretsEngine(t, dir)
	secrets, generated, err := LoadSecrets(ctx, eng, dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if generated == "" || len(secrets.JWTSecret) != JWTSecretBytesMin || len(secrets.Pepper) != pepperBytes {
		t.Fatalf("LoadSecrets = %d-byte JWT secret, %d-byte pepper, token %q", len(secrets.JWTSecret), len(secrets.Pepper), generated)
	}
	for i := range 20 {
		if _, err := eng.WriteRows(ctx, engine.Row{Key: fmt.Appendf(nil, "row-%d", i), Value: []byte("v")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := eng.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	eng = openSecretsEngine(t, dir)
	again, generatedAgain, err := LoadSecrets(ctx, eng, dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if generatedAgain != "" || !bytes.Equal(again.JWTSecret, secrets.JWTSecret) || !bytes.Equal(again.Pepper, secrets.Pepper) ||
		!bytes.Equal(again.AdminTokenHash, secrets.AdminTokenHash) {
		t.Fatal("LoadSecrets after a reopen returned other secrets")
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}

	needles := map[string][]byte{}
	for name, secret := range map[string][]byte{"JWT secret": secrets.JWTSecret, "pepper": secrets.Pepper} {
		needles[name] = secret
		needles[name+" (base64)"] = []byte(base64.StdEncoding.EncodeToString(secret))
	}
	files := 0
	err = filepath.WalkDir(dir, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := entry.Info()
		if err != nil {
			return err
		}
		if entry.IsDir() {
			if info.Mode().Perm() != 0o700 {
				t.Errorf("%s has mode %v, want 0700", path, info.Mode().Perm())
			}
			return nil
		}
		files++
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", path, info.Mode().Perm())
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for name, needle := range needles {
			inSecrets := entry.Name() == secretsFile && bytes.HasSuffix([]byte(name), []byte("(base64)"))
			if found := bytes.Contains(data, needle); found != inSecrets {
				t.Errorf("%s holds the %s: %v, want %v", path, name, found, inSecrets)
			}
		}
		return nil
	})
	if err != nil || files < 5 {
		t.Fatalf("walked %d files: %v", files, err)
	}
}

// TestSecretsMoveOutOfRows: a data directory of an older version has the
// JWT secret and the pepper in rows of the engine's table. LoadSecrets keeps
// them (API keys and tokens stay valid), writes them to the secrets file and
// deletes the rows; the admin token's hash stays a row.
func TestSecretsMoveOutOfRows(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	eng := openSecretsEngine(t, dir)
	defer eng.Close()
	jwtSecret, pepper := bytes.Repeat([]byte{'j'}, 32), bytes.Repeat([]byte{'p'}, 32)
	adminHash := sha256.Sum256([]byte("adm_old"))
	if _, err := eng.WriteRows(ctx, engine.Row{Key: rowJWTSecret, Value: jwtSecret}, engine.Row{Key: rowPepper, Value: pepper},
		engine.Row{Key: rowAdminTokenHash, Value: adminHash[:]}); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		secrets, generated, err := LoadSecrets(ctx, eng, dir, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if generated != "" || !bytes.Equal(secrets.JWTSecret, jwtSecret) || !bytes.Equal(secrets.Pepper, pepper) ||
			!bytes.Equal(secrets.AdminTokenHash, adminHash[:]) {
			t.Fatalf("round %d: LoadSecrets did not keep the stored secrets", round)
		}
		rows := serverRows(t, eng)
		if len(rows) != 1 || !bytes.Equal(rows[string(rowAdminTokenHash)], adminHash[:]) {
			t.Fatalf("round %d: rows left %q, want only the admin token's hash", round, rows)
		}
		stored, found, err := readSecretsFile(filepath.Join(dir, secretsFile))
		if err != nil || !found || !bytes.Equal(stored.JWTSecret, jwtSecret) || !bytes.Equal(stored.Pepper, pepper) {
			t.Fatalf("round %d: secrets file = %+v, %v, %v", round, stored, found, err)
		}
	}
}

// TestGivenJWTSecretIsNotStored: a JWT secret given by the operator is used
// and never written; the pepper is stored all the same. A damaged file is an
// error, not new secrets (a new pepper would orphan every API key).
func TestGivenJWTSecretIsNotStored(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	eng := openSecretsEngine(t, dir)
	defer eng.Close()
	given := "a-jwt-secret-given-by-the-operator-32b"
	secrets, _, err := LoadSecrets(ctx, eng, dir, "adm_x", given)
	if err != nil || string(secrets.JWTSecret) != given {
		t.Fatalf("LoadSecrets = %q, %v; want the given secret", secrets.JWTSecret, err)
	}
	data, err := os.ReadFile(filepath.Join(dir, secretsFile))
	if err != nil || bytes.Contains(data, []byte("jwt")) || !bytes.Contains(data, []byte("pepper")) {
		t.Fatalf("secrets file %q, %v; want the pepper only", data, err)
	}
	if err := os.WriteFile(filepath.Join(dir, secretsFile), []byte(`{"jwt_secret":"AAAA"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadSecrets(ctx, eng, dir, "adm_x", ""); err == nil {
		t.Fatal("LoadSecrets with a file without a pepper = nil, want an error")
	}
}

// TestSecretHasherMatchesHMAC checks that the pooled hasher gives exactly
// the hashes the stored ones were made with, hmac.New(sha256.New, pepper)
// per secret: RFC 4231's test case 2, then secrets of every length around
// SHA-256's block, each hashed twice in a row (a pooled HMAC reused after
// Reset), and from several goroutines at once (run with -race).
func TestSecretHasherMatchesHMAC(t *testing.T) {
	rfc := newSecretHasher([]byte("Jefe"))
	if got := hex.EncodeToString(rfc.hash([]byte("what do ya want for nothing?"))); got != "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" {
		t.Fatalf("HMAC-SHA256 of RFC 4231 case 2 = %s", got)
	}
	pepper := bytes.Repeat([]byte{0x5c, 0x36, 0x01}, 11)[:pepperBytes]
	h := newSecretHasher(pepper)
	old := func(secret []byte) []byte {
		mac := hmac.New(sha256.New, pepper)
		mac.Write(secret)
		return mac.Sum(nil)
	}
	secret := make([]byte, 0, 200)
	for n := range 200 {
		for range 2 {
			if got, want := h.hash(secret), old(secret); !bytes.Equal(got, want) {
				t.Fatalf("hash of %d bytes = %x, want %x", n, got, want)
			}
			if sum := h.sum(secret); !bytes.Equal(sum[:], old(secret)) {
				t.Fatalf("sum of %d bytes = %x, want %x", n, sum, old(secret))
			}
		}
		secret = append(secret, byte('A'+n%26))
	}
	key := []byte("sk_test_" + strings.Repeat("k", keySecretChars))
	want := old(key)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				if sum := h.sum(key); !bytes.Equal(sum[:], want) {
					t.Errorf("concurrent sum = %x, want %x", sum, want)
					return
				}
			}
		})
	}
	wg.Wait()
}
