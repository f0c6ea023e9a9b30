package access

import (
	"encoding/json"
	"fmt"
	"time"
)

// Row key prefixes: one per record type, then the record's id.
const (
	PrefixUser    = "u/"
	PrefixAccount = "a/"
	PrefixKey     = "k/"
	PrefixFamily  = "f/"
	PrefixNonce   = "n/"
	PrefixServer  = "s/"
)

// User is a person or wallet who signs in to manage accounts and keys.
// Email users have a password hash; wallet users have an Address.
type User struct {
	ID           string    `json:"id"`
	Email        string    `json:"email,omitempty"`
	PasswordHash []byte    `json:"passwordHash,omitempty"` // bcrypt
	Address      string    `json:"address,omitempty"`      // EIP-55
	CreatedAt    time.Time `json:"createdAt"`
	// SignedOutAt ends every session begun before it (logout-all): access
	// tokens issued earlier are refused.
	SignedOutAt time.Time `json:"signedOutAt,omitzero"`
}

// Profile is what the access layer knows of a ledger account: its owner
// and how the owner named it.
type Profile struct {
	ID            string      `json:"id"`
	Owner         string      `json:"owner"`
	Name          string      `json:"name"`
	Environment   Environment `json:"environment"`
	WalletAddress string      `json:"walletAddress,omitempty"`
	CreatedAt     time.Time   `json:"createdAt"`
}

// KeyKind says whether a key may write (secret) or only read (publishable).
type KeyKind string

const (
	KeySecret      KeyKind = "secret"
	KeyPublishable KeyKind = "publishable"
)

// Key is an API key without its secret: Hash is a keyed hash of the
// plaintext, which only its creator ever sees.
type Key struct {
	ID          string      `json:"id"`
	Account     string      `json:"account"`
	Owner       string      `json:"owner"`
	Label       string      `json:"label"`
	Kind        KeyKind     `json:"kind"`
	Environment Environment `json:"environment"`
	Scopes      Scope       `json:"scopes"`
	Hash        []byte      `json:"hash"`
	Prefix      string      `json:"prefix"`
	Last4       string      `json:"last4"`
	RateLimit   RateLimit   `json:"rateLimit"`
	CreatedAt   time.Time   `json:"createdAt"`
	ExpiresAt   time.Time   `json:"expiresAt,omitzero"`
	RevokedAt   time.Time   `json:"revokedAt,omitzero"`
	ReplacedBy  string      `json:"replacedBy,omitempty"` // the key that a rotation made
	Budget      *Budget     `json:"budget,omitempty"`     // nil: the key spends freely
	// Approval holds back the key's larger charges and holds until people
	// approve them; nil: none waits. A rotation keeps it, as it keeps Role.
	Approval *ApprovalPolicy `json:"approval,omitempty"`
	Role     KeyRole         `json:"role,omitempty"`
}

// Budget is what a key may spend through charges, holds and sessions: caps
// as decimal strings of base units, empty for none. Spender names the spend
// the caps apply to: the id of the first key of a rotation line, so that a
// rotated key goes on from what its predecessor spent.
type Budget struct {
	Spender      string `json:"spender"`
	MaxPerCharge string `json:"maxPerCharge,omitempty"`
	MaxPerDay    string `json:"maxPerDay,omitempty"`
	MaxTotal     string `json:"maxTotal,omitempty"`
}

// Authorize checks that k may act with scope at now.
func (k *Key) Authorize(scope Scope, now time.Time) error {
	switch {
	case !k.RevokedAt.IsZero():
		return ErrKeyRevoked
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return ErrKeyExpired
	case !k.Scopes.Has(scope):
		return fmt.Errorf("%w: the key lacks %s", ErrMissingScope, scope)
	}
	return nil
}

// Family is one chain of refresh tokens from one sign-in. Only the latest
// token (Hash) is valid; presenting an earlier one means the chain leaked,
// so the whole family is revoked.
type Family struct {
	ID        string    `json:"id"`
	User      string    `json:"user"`
	Hash      []byte    `json:"hash"`
	Rotations uint64    `json:"rotations"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	Revoked   bool      `json:"revoked,omitempty"`
}

// Nonce is a single-use Sign-In with Ethereum challenge.
type Nonce struct {
	Value     string    `json:"value"`
	Address   string    `json:"address"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Row returns the row key and encoded value of a record.
func Row[T User | Profile | Key | Family | Nonce](record *T) (key, value []byte) {
	var prefix, id string
	switch r := any(record).(type) {
	case *User:
		prefix, id = PrefixUser, r.ID
	case *Profile:
		prefix, id = PrefixAccount, r.ID
	case *Key:
		prefix, id = PrefixKey, r.ID
	case *Family:
		prefix, id = PrefixFamily, r.ID
	case *Nonce:
		prefix, id = PrefixNonce, r.Value
	}
	value, err := json.Marshal(record)
	if err != nil {
		panic(fmt.Sprintf("access: encode %T: %v", record, err)) // plain structs always encode
	}
	return []byte(prefix + id), value
}

// RowKey returns the row key of the record of type prefix with id.
func RowKey(prefix, id string) []byte { return []byte(prefix + id) }

// Decode decodes a row's value.
func Decode[T User | Profile | Key | Family | Nonce](value []byte) (T, error) {
	var record T
	if err := json.Unmarshal(value, &record); err != nil {
		return record, fmt.Errorf("access: decode %T: %w", record, err)
	}
	return record, nil
}
