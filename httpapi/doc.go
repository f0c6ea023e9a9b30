// Package httpapi will serve Tollway's HTTP API (../shared/API.md) on
// fasthttp and fasthttp/router: decode, call the engine, encode, with errors
// mapped to statuses in one table. It is built by the HTTP API issue; until
// then it holds no code, so nothing here pretends to serve.
package httpapi
