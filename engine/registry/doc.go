// Package registry is the x402 facilitator's registries: the networks and
// assets it settles in, and the resources (protected URLs and what they
// accept) that owners publish. Records live in memory and in the engine's
// table.
//
// Invariants: every record is written durably (engine.WriteRows) before it
// is applied in memory and returned; every count is bounded by a named
// constant (NetworksMax, AssetsPerNetworkMax, ResourcesPerOwnerMax); an
// asset's network is registered. The package owns no goroutines.
package registry
