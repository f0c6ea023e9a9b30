// Package gateway is the metering gateway's route registry and the rules
// of forwarding a call to a route's upstream: which headers cross, how the
// call is signed, and the pooled connections to each upstream.
//
// Invariants: every route is written durably (engine.WriteRows) before it
// is applied in memory and returned; a route's upstream passed the egress
// policy when it was registered, and every connection to it dials through
// the policy again (no SSRF by DNS rebinding); routes per owner are bounded
// by RoutesPerOwnerMax. The package owns no goroutines (fasthttp's
// HostClients own their idle-connection cleaners).
package gateway
