#!/bin/bash
# Interleaved A/B of HTTP charges: the server without a chain vs with the
# embedded chain (its relayer folding every charge). Run from anywhere after
# `make bench-tool`; needs port 18480 free. BENCHMARKS.md quotes its output.
set -u
cd "$(dirname "$0")/.."
TOKEN=adm_abcdefghijklmnopqrstuvwxyz0123456789ABCD
for i in 1 2 3; do
  for mode in none embedded; do
    dir=$(mktemp -d)
    args=(serve --listen 127.0.0.1:18480 --data $dir/data --admin-token $TOKEN --log-level warn --max-conns-per-ip 2147483647 --auth-rate-limit 100000/1s --chain $mode)
    [ $mode = embedded ] && args+=(--chain-listen 127.0.0.1:0)
    ./bin/tollway "${args[@]}" > $dir/out.txt 2> $dir/err.txt &
    pid=$!
    for t in $(seq 1 100); do curl -s -o /dev/null http://127.0.0.1:18480/healthz && break; sleep 0.2; done
    ./bin/tollway-bench --target http://127.0.0.1:18480 --admin-token $TOKEN --scenarios http-charge --connections 64 --duration 10s --warmup 2s --repetitions 1 --quiet --out $dir/bench > $dir/bench.txt 2>&1
    echo "run $i $mode: $(grep -iE 'charges/s|req/s|throughput' $dir/bench.txt | head -3 | tr '\n' ' ')"
    [ -f $dir/bench/summary.md ] && grep -E 'http-charge' $dir/bench/summary.md | head -3
    kill -TERM $pid; wait $pid
    rm -rf $dir
  done
done
