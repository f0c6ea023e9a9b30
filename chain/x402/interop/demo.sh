#!/usr/bin/env bash
# demo.sh: an x402 payment end to end through Tollway's facilitator, with the
# reference npm packages unchanged (`make x402-demo`).
#
# It starts `tollway serve` on a fresh data directory (the embedded chain,
# --x402-open, ports 8402 and 8546), then runs interop.mjs: a resource server
# built with @x402/express whose facilitator is http://127.0.0.1:8402/x402, and
# a client built with @x402/fetch paying it 0.01 test USDC from the embedded
# chain's test wallet. It prints the paid response, the settlement transaction
# and the payer's and payee's USDC before and after, then stops the server.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${TOLLWAY_BIN:-$here/../../../bin/tollway}
data=$(mktemp -d)
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$data"' EXIT

"$bin" serve --data "$data" --listen 127.0.0.1:8402 --chain-listen 127.0.0.1:8546 --x402-open \
	--log-level warn >"$data/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
	curl -fsS http://127.0.0.1:8402/readyz >/dev/null 2>&1 && break
	sleep 0.2
done
curl -fsS http://127.0.0.1:8402/readyz >/dev/null || { cat "$data/serve.log"; exit 1; }

usdc=$(curl -fsS http://127.0.0.1:8402/v1/config | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).assets[0].address))')
payer_key=0x$(cat "$data/chain/test-wallet.key")
pay_to=0x000000000000000000000000000000000000b0b0
balance() { # the USDC balance of $1, by eth_call of balanceOf
	curl -fsS -H 'Content-Type: application/json' http://127.0.0.1:8546 -d \
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_call\",\"params\":[{\"to\":\"$usdc\",\"data\":\"0x70a08231000000000000000000000000${1#0x}\"},\"latest\"]}" |
		node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(BigInt(JSON.parse(s).result).toString()))'
}
cd "$here" # node resolves viem from here
payer=$(node -e 'import("viem/accounts").then(v=>console.log(v.privateKeyToAccount(process.argv[1]).address))' "$payer_key")
echo "payer $payer: $(balance "$payer") USDC base units; payee $pay_to: $(balance $pay_to)"
node interop.mjs http://127.0.0.1:8402/x402 "$usdc" "$pay_to" "$payer_key" 10000 | node -e '
let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
  const r = JSON.parse(s);
  if (r.error) { console.error(r.error); process.exit(1); }
  console.log(`unpaid: ${r.unpaid}; paid: ${r.status} ${r.body}`);
  console.log("PAYMENT-RESPONSE:", JSON.parse(Buffer.from(r.paymentResponse, "base64").toString()));
});'
echo "payer $payer: $(balance "$payer") USDC base units; payee $pay_to: $(balance $pay_to)"
