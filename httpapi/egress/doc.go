// Package egress decides which addresses Tollway may connect to on a
// user's behalf, so a configured upstream or webhook URL cannot make the
// server reach its own loopback, the private network it runs in, or a
// cloud metadata service (server-side request forgery).
//
// Guarantees:
//   - CheckURL accepts only http and https URLs with a host, no user
//     information and at most URLLengthMax bytes, and, unless the policy
//     allows private targets, only if every address the host resolves to
//     is public (CheckAddr). One non-public address refuses the URL: a
//     name that mixes public and private addresses is an attack on the
//     resolver's order.
//   - Control, set on a net.Dialer, refuses a connection to a non-public
//     address after resolution and before connect, so a name that resolved
//     to a public address when the URL was checked and to a private one
//     when it is dialled (DNS rebinding) is still refused. DialContext,
//     DialTimeout and DialFunc dial through it.
//
// The package owns no goroutines; it imports only the standard library.
package egress
