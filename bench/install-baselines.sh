#!/usr/bin/env bash
# Installs the load benchmark's baselines, Debian's redis-server and
# PostgreSQL 15, when their binaries are missing; does nothing otherwise.
# The benchmark starts its own servers on 127.0.0.1 with temporary data
# directories, so the packages' system services are kept from starting (or
# stopped and disabled if they started): a system Redis on 6379 or
# PostgreSQL on 5432 would only take the cores the benchmark measures.
set -euo pipefail

sudo_command=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_command=(sudo)
fi

packages=()
if ! command -v redis-server >/dev/null 2>&1; then
  packages+=(redis-server)
fi
if [ ! -x /usr/lib/postgresql/15/bin/postgres ] && ! command -v postgres >/dev/null 2>&1; then
  packages+=(postgresql)
fi
if [ "${#packages[@]}" -eq 0 ]; then
  echo "install-baselines: redis-server and postgres are already installed"
  exit 0
fi

echo "install-baselines: installing ${packages[*]}"
# Debian's invoke-rc.d asks policy-rc.d whether a package may start its
# service; 101 means no. Install a refusing one for the duration unless the
# machine already has a policy.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo_command[@]}" tee "$policy" >/dev/null
  "${sudo_command[@]}" chmod 755 "$policy"
  trap '"${sudo_command[@]}" rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo_command[@]}" apt-get update -qq
"${sudo_command[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

# In case a service started anyway (an existing policy that allows it).
for service in "${packages[@]}"; do
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    "${sudo_command[@]}" systemctl disable --now "$service" >/dev/null 2>&1 || true
  fi
  "${sudo_command[@]}" service "$service" stop >/dev/null 2>&1 || true
done

command -v redis-server >/dev/null
[ -x /usr/lib/postgresql/15/bin/postgres ] || command -v postgres >/dev/null
echo "install-baselines: $(redis-server --version | cut -d' ' -f1-3), $(/usr/lib/postgresql/15/bin/postgres --version 2>/dev/null || postgres --version)"
