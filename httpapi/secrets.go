package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
	"github.com/tollway/tollway/wal/atomicfile"
)

// Secrets are the server's own secrets: what Config needs beside the engine.
type Secrets struct {
	AdminTokenHash []byte // SHA-256 of the admin token
	JWTSecret      []byte
	Pepper         []byte
}

// JWTSecretBytesMin is the shortest JWT secret accepted: HS256 wants a key
// as long as its hash.
const JWTSecretBytesMin = 32

// The admin token is stored only as its hash (SHA-256: knowing it mints
// nothing), in a row of the engine's table. The JWT secret and the pepper
// are keys the server must use as they are: they live in secretsFile in the
// data directory, FileMode, never in the engine's log, whose records and
// tables are copied by snapshots and backups and were readable by any
// local user in older versions.
var (
	rowAdminTokenHash = []byte(access.PrefixServer + "admin-token-sha256")
	// rowJWTSecret and rowPepper held the secrets before secretsFile:
	// LoadSecrets moves them into the file and deletes them.
	rowJWTSecret = []byte(access.PrefixServer + "jwt-secret")
	rowPepper    = []byte(access.PrefixServer + "pepper")
)

const (
	// secretsFile, in the data directory, holds the stored secrets as JSON
	// (byte strings in base64), replaced with package atomicfile.
	secretsFile = "secrets"
	// secretsFileMode lets only the server's user read the file.
	secretsFileMode = 0o600
	// secretsFileBytesMax bounds what is read of the file: two keys of 32
	// bytes in base64 take about 120.
	secretsFileBytesMax = 4 << 10
	// pepperBytes is the length of the pepper: HMAC-SHA-256 wants a key as
	// long as its hash.
	pepperBytes = 32
)

// storedSecrets is the content of secretsFile. JWTSecret is absent while
// the server is given its JWT secret and never generated one.
type storedSecrets struct {
	JWTSecret []byte `json:"jwt_secret,omitempty"`
	Pepper    []byte `json:"pepper"`
}

// LoadSecrets returns the server's secrets. A given admin token or JWT
// secret wins; a missing one is read from where it is stored (the admin
// token's hash from the engine's table, the JWT secret from dataDir's
// secrets file), or generated on first start and stored there. The pepper
// is always stored. generatedAdminToken is the plaintext of an admin token
// generated now, to print once; it is empty otherwise, and cannot be
// recovered later (only its hash is kept).
//
// Secrets that older versions kept in the engine's table are moved to the
// file, and their rows deleted.
//
// NB: moved secrets stay in the log records of their old rows until a
// snapshot truncates them, and in Pebble's tables until compactions drop
// them; if the data directory was readable by others, give the server a new
// JWT secret.
func LoadSecrets(ctx context.Context, eng *engine.Engine, dataDir, adminToken, jwtSecret string) (s Secrets, generatedAdminToken string, err error) {
	rows := map[string][]byte{}
	err = eng.ScanRows([]byte(access.PrefixServer), func(key, value []byte) error {
		rows[string(key)] = append([]byte(nil), value...)
		return nil
	})
	if err != nil {
		return Secrets{}, "", fmt.Errorf("load secrets: %w", err)
	}
	path := filepath.Join(dataDir, secretsFile)
	stored, found, err := readSecretsFile(path)
	if err != nil {
		return Secrets{}, "", err
	}
	legacy := rows[string(rowJWTSecret)] != nil || rows[string(rowPepper)] != nil
	if !found {
		// First start, or the first of this version: take the rows'.
		stored = storedSecrets{JWTSecret: rows[string(rowJWTSecret)], Pepper: rows[string(rowPepper)]}
	}
	if found && stored.Pepper == nil {
		// A new pepper would orphan every API key's hash.
		return Secrets{}, "", fmt.Errorf("load secrets: %s is damaged: it has no pepper", path)
	}
	changed := !found
	var writes []engine.Row
	switch {
	case adminToken != "":
		sum := sha256.Sum256([]byte(adminToken))
		s.AdminTokenHash = sum[:]
	case rows[string(rowAdminTokenHash)] != nil:
		s.AdminTokenHash = rows[string(rowAdminTokenHash)]
	default:
		generatedAdminToken = "adm_" + randomBase62(40)
		sum := sha256.Sum256([]byte(generatedAdminToken))
		s.AdminTokenHash = sum[:]
		writes = append(writes, engine.Row{Key: rowAdminTokenHash, Value: s.AdminTokenHash})
	}
	switch {
	case jwtSecret != "":
		if len(jwtSecret) < JWTSecretBytesMin {
			return Secrets{}, "", fmt.Errorf("the JWT secret must be at least %d bytes", JWTSecretBytesMin)
		}
		s.JWTSecret = []byte(jwtSecret)
	case stored.JWTSecret != nil:
		s.JWTSecret = stored.JWTSecret
	default:
		stored.JWTSecret, changed = randomBytes(JWTSecretBytesMin), true
		s.JWTSecret = stored.JWTSecret
	}
	if stored.Pepper == nil {
		stored.Pepper, changed = randomBytes(pepperBytes), true
	}
	s.Pepper = stored.Pepper
	if len(s.AdminTokenHash) != sha256.Size || len(s.Pepper) != pepperBytes ||
		(stored.JWTSecret != nil && len(stored.JWTSecret) < JWTSecretBytesMin) {
		return Secrets{}, "", fmt.Errorf("load secrets: stored secrets are damaged (%s, or the engine's table)", path)
	}
	if changed {
		if err := writeSecretsFile(path, stored); err != nil {
			return Secrets{}, "", err
		}
	}
	if legacy {
		// The file is durable: the rows may go.
		writes = append(writes, engine.Row{Key: rowJWTSecret}, engine.Row{Key: rowPepper})
	}
	if len(writes) > 0 {
		if _, err := eng.WriteRows(ctx, writes...); err != nil {
			return Secrets{}, "", fmt.Errorf("store secrets: %w", err)
		}
	}
	return s, generatedAdminToken, nil
}

// readSecretsFile returns the secrets stored at path; found is false if
// there is no file. A file others may read is restricted first.
func readSecretsFile(path string) (stored storedSecrets, found bool, err error) {
	file, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return storedSecrets{}, false, nil
	}
	if err != nil {
		return storedSecrets{}, false, fmt.Errorf("load secrets: %w", err)
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return storedSecrets{}, false, fmt.Errorf("load secrets: %w", err)
	}
	if info.Mode().Perm()&^secretsFileMode != 0 {
		if err := file.Chmod(secretsFileMode); err != nil {
			return storedSecrets{}, false, fmt.Errorf("load secrets: restrict %s to its owner: %w", path, err)
		}
	}
	data, err := io.ReadAll(io.LimitReader(file, secretsFileBytesMax))
	if err != nil {
		return storedSecrets{}, false, fmt.Errorf("load secrets: %w", err)
	}
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&stored); err != nil {
		return storedSecrets{}, false, fmt.Errorf("load secrets: %s is damaged: %v", path, err)
	}
	return stored, true, nil
}

// writeSecretsFile replaces the file at path with stored, atomically and
// durably (atomicfile.Replace, mode secretsFileMode): a crash leaves the
// old file or the new one, whole.
func writeSecretsFile(path string, stored storedSecrets) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("store secrets in %s: %w", path, err)
		}
	}()
	data, err := json.Marshal(stored)
	if err != nil {
		return err
	}
	return atomicfile.Replace(path, append(data, '\n'), secretsFileMode)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand.Read documents it)
	return b
}
