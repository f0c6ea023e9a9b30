// Package siwe builds, parses and verifies Sign-In with Ethereum (EIP-4361)
// messages, so a wallet can prove it holds an address by signing one line of
// plain text with personal_sign.
//
// Guarantees:
//   - Parse accepts only the EIP-4361 layout, fields in order, with every
//     field checked against its ABNF rule, the address in EIP-55 checksum
//     case, and input of at most 4096 bytes; it never panics on any input.
//   - Parse(m.String()) returns m for every m that Parse returned: the text
//     String renders is the canonical form of a parsed message.
//   - Verify returns a message only if its domain and chain id are the
//     expected ones, its URI is http or https on the expected domain, the
//     expected time lies in [NotBefore, ExpirationTime) (ExpirationTime is
//     optional, as in EIP-4361), and the signature recovers the message's
//     own address. It does not check the nonce: single use and the nonce's
//     lifetime need state, which the caller owns (a message without an
//     expiration is good only as long as its nonce).
//
// The package is pure: no goroutines, no I/O, and time is an argument.
package siwe
