package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/tollway/tollway/engine"
	"github.com/tollway/tollway/engine/access"
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

// Rows of the server's secrets in the engine's table. The admin token is
// stored only as its hash; the JWT secret and the pepper are keys the
// server must use, so they are stored as they are, in the data directory.
var (
	rowAdminTokenHash = []byte(access.PrefixServer + "admin-token-sha256")
	rowJWTSecret      = []byte(access.PrefixServer + "jwt-secret")
	rowPepper         = []byte(access.PrefixServer + "pepper")
)

// LoadSecrets returns the server's secrets. A given admin token or JWT
// secret wins; a missing one is read from the engine's table, or generated
// on first start and stored there. generatedAdminToken is the plaintext of
// an admin token generated now, to print once; it is empty otherwise, and
// cannot be recovered later (only its hash is kept).
func LoadSecrets(ctx context.Context, eng *engine.Engine, adminToken, jwtSecret string) (s Secrets, generatedAdminToken string, err error) {
	stored := map[string][]byte{}
	err = eng.ScanRows([]byte(access.PrefixServer), func(key, value []byte) error {
		stored[string(key)] = append([]byte(nil), value...)
		return nil
	})
	if err != nil {
		return Secrets{}, "", fmt.Errorf("load secrets: %w", err)
	}
	var rows []engine.Row
	switch {
	case adminToken != "":
		sum := sha256.Sum256([]byte(adminToken))
		s.AdminTokenHash = sum[:]
	case stored[string(rowAdminTokenHash)] != nil:
		s.AdminTokenHash = stored[string(rowAdminTokenHash)]
	default:
		generatedAdminToken = "adm_" + randomBase62(40)
		sum := sha256.Sum256([]byte(generatedAdminToken))
		s.AdminTokenHash = sum[:]
		rows = append(rows, engine.Row{Key: rowAdminTokenHash, Value: s.AdminTokenHash})
	}
	switch {
	case jwtSecret != "":
		if len(jwtSecret) < JWTSecretBytesMin {
			return Secrets{}, "", fmt.Errorf("the JWT secret must be at least %d bytes", JWTSecretBytesMin)
		}
		s.JWTSecret = []byte(jwtSecret)
	case stored[string(rowJWTSecret)] != nil:
		s.JWTSecret = stored[string(rowJWTSecret)]
	default:
		s.JWTSecret = randomBytes(32)
		rows = append(rows, engine.Row{Key: rowJWTSecret, Value: s.JWTSecret})
	}
	if s.Pepper = stored[string(rowPepper)]; s.Pepper == nil {
		s.Pepper = randomBytes(32)
		rows = append(rows, engine.Row{Key: rowPepper, Value: s.Pepper})
	}
	if len(s.AdminTokenHash) != sha256.Size || len(s.Pepper) != 32 {
		return Secrets{}, "", errors.New("load secrets: stored secrets are damaged")
	}
	if len(rows) > 0 {
		if _, err := eng.WriteRows(ctx, rows...); err != nil {
			return Secrets{}, "", fmt.Errorf("store secrets: %w", err)
		}
	}
	return s, generatedAdminToken, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand.Read documents it)
	return b
}
