package devchain

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/tollway/tollway/wal/atomicfile"
)

const (
	// funderKeyFile holds the funder's private key, hex, in Dir.
	funderKeyFile = "funder.key"
	// metaFile holds the chain's metadata, a JSON object of strings, in Dir.
	metaFile = "meta.json"
	// secretFileMode: the key is readable by the server's user only.
	secretFileMode = 0o600
	// The metadata is a handful of contract addresses and markers, set by
	// the server itself, never by a client; the limits catch a caller bug.
	metaKeyLengthMax   = 128
	metaValueLengthMax = 4096
	metaEntriesMax     = 256
)

// loadOrCreateFunderKey reads the funder key from dir, or creates it when
// the chain does not exist yet. A chain without its key is refused: its
// genesis funds were given to that key and cannot be given to another.
//
// NB: written before the genesis that funds it: a crash in between leaves
// a key and no chain, and the next start writes the same genesis.
func loadOrCreateFunderKey(dir string, chainExists bool) (*ecdsa.PrivateKey, error) {
	path := filepath.Join(dir, funderKeyFile)
	key, err := LoadOrCreateKey(path, !chainExists)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("devchain: %s is missing but the chain in %s exists: restore the file, or remove the directory to start a new chain", path, dir)
	}
	return key, err
}

// LoadOrCreateKey reads the hex secp256k1 key at path or, when there is
// none and create is set, generates one and stores it there (0600, written
// atomically and fsynced). Without create, a missing file is an error
// wrapping fs.ErrNotExist. Errors never quote the file: it is a secret.
func LoadOrCreateKey(path string, create bool) (*ecdsa.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		key, err := crypto.HexToECDSA(string(bytes.TrimSpace(data)))
		if err != nil {
			return nil, fmt.Errorf("devchain: %s is damaged: not a hex secp256k1 key", path)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) || !create {
		return nil, fmt.Errorf("devchain: read the key %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("devchain: %w", err)
	}
	key, err := crypto.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("devchain: generate a key: %w", err)
	}
	if err := atomicfile.Replace(path, []byte(hex.EncodeToString(crypto.FromECDSA(key))+"\n"), secretFileMode); err != nil {
		return nil, fmt.Errorf("devchain: store the key %s: %w", path, err)
	}
	return key, nil
}

// metaStore is the chain's metadata: a map kept whole in memory and
// replaced whole on disk at each change, atomically.
type metaStore struct {
	path    string
	mu      sync.Mutex
	entries map[string]string
}

func openMeta(dir string) (*metaStore, error) {
	m := &metaStore{path: filepath.Join(dir, metaFile), entries: map[string]string{}}
	data, err := os.ReadFile(m.path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("devchain: read %s: %w", m.path, err)
	}
	if err := json.Unmarshal(data, &m.entries); err != nil {
		return nil, fmt.Errorf("devchain: %s is damaged: %v", m.path, err)
	}
	if m.entries == nil { // the file held null
		m.entries = map[string]string{}
	}
	return m, nil
}

func (m *metaStore) get(key string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	value, ok := m.entries[key]
	return value, ok
}

// set records key, durably, before it is visible to get.
func (m *metaStore) set(key, value string) error {
	if key == "" || len(key) > metaKeyLengthMax || len(value) > metaValueLengthMax {
		return fmt.Errorf("devchain: metadata %q: key must be 1..%d bytes and value at most %d", key, metaKeyLengthMax, metaValueLengthMax)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.entries[key]; !ok && len(m.entries) >= metaEntriesMax {
		return fmt.Errorf("devchain: metadata holds %d entries already, the most it takes", metaEntriesMax)
	}
	next := make(map[string]string, len(m.entries)+1)
	for k, v := range m.entries {
		next[k] = v
	}
	next[key] = value
	data, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return fmt.Errorf("devchain: encode metadata: %w", err)
	}
	if err := atomicfile.Replace(m.path, append(data, '\n'), secretFileMode); err != nil {
		return fmt.Errorf("devchain: store metadata: %w", err)
	}
	m.entries = next
	return nil
}
