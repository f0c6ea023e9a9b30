//go:build tools

// This file pins the libraries that later parts (the chain relayer, the
// benchmark) build on, so go.mod names them before their code uses them.
package tollway

import (
	_ "github.com/ethereum/go-ethereum/accounts"
	_ "github.com/ethereum/go-ethereum/common"
	_ "github.com/ethereum/go-ethereum/crypto"
	_ "github.com/fasthttp/router"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/valyala/fasthttp"
	_ "github.com/valyala/fastjson"
	_ "golang.org/x/crypto/bcrypt"
	_ "gonum.org/v1/plot"
	_ "gonum.org/v1/plot/plotter"
	_ "gonum.org/v1/plot/vg"
)
