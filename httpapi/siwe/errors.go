package siwe

import "errors"

// The errors Verify and Parse return, matched with errors.Is. Each is
// wrapped with the detail of what failed, so the HTTP layer can map the
// sentinel to a status while logs keep the reason.
var (
	// ErrMalformed means the message or the signature does not parse: a
	// client bug or a forgery attempt, never a stale but honest login.
	ErrMalformed = errors.New("siwe: malformed")
	// ErrDomain means the message asks to sign in to another site, which
	// is how a phishing page replays a signature it collected.
	ErrDomain = errors.New("siwe: wrong domain")
	// ErrURI means the message's URI is not on the server's origin: the
	// signature was made for another resource, so it signs in nowhere here.
	ErrURI = errors.New("siwe: wrong URI")
	// ErrChainID means the message binds the session to another chain.
	ErrChainID = errors.New("siwe: wrong chain id")
	// ErrExpired means the message's expiration time has passed.
	ErrExpired = errors.New("siwe: expired")
	// ErrNotYetValid means the message's not-before time is still ahead.
	ErrNotYetValid = errors.New("siwe: not yet valid")
	// ErrSigner means the signature does not come from the message's
	// address: another key signed it, the text changed after signing, or no
	// public key can be recovered from it.
	ErrSigner = errors.New("siwe: wrong signer")
)
