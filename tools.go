//go:build tools

// This file pins the libraries of the design that later parts (the HTTP API,
// tokens, the chain relayer) build on, so go.mod names them from the start.
package tollway

import (
	_ "github.com/ethereum/go-ethereum/common"
	_ "github.com/fasthttp/router"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/valyala/fasthttp"
)
