#!/usr/bin/env bash
# Starts a two-server federation on this machine (apps/server/README.md, "Two servers on one
# machine"): a.localhost and b.localhost, each with its own data directory, client API on plain
# HTTP and federation on TLS, certificates from a throwaway CA that both trust through `ca_file`,
# and each other's federation port in `federation.hosts` (with `allow_private_addresses`, as
# loopback is refused by default). Runs from source (no build step).
# Ctrl-C stops both.
#
#   bash scripts/federation.sh            # data in ./data/federation
#
# Environment: WEFT_FED_DIR (data), A_PORT/B_PORT (client API, 8008/8009),
# A_FED_PORT/B_FED_PORT (federation, 8448/8449).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/provision.sh"
dir="${WEFT_FED_DIR:-$root/data/federation}"
a_port="${A_PORT:-8008}" b_port="${B_PORT:-8009}"
a_fed="${A_FED_PORT:-8448}" b_fed="${B_FED_PORT:-8449}"
mkdir -p "$dir"
cd "$dir"

ec_key=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
if [ ! -f ca.pem ]; then
  openssl req -x509 "${ec_key[@]}" -keyout ca.key -out ca.pem -days 365 -subj /CN=weft-dev-ca 2>/dev/null
fi
for s in a b; do
  if [ ! -f "$s.pem" ]; then
    openssl req "${ec_key[@]}" -keyout "$s.key" -out "$s.csr" -subj "/CN=$s.localhost" 2>/dev/null
    printf 'subjectAltName=DNS:%s.localhost,IP:127.0.0.1\n' "$s" > "$s.ext"
    openssl x509 -req -in "$s.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$s.pem" \
      -days 365 -extfile "$s.ext" 2>/dev/null
  fi
  mkdir -p "$s"
  fed=$([ "$s" = a ] && echo "$a_fed" || echo "$b_fed")
  cat > "$s/weft.yaml" <<EOF
federation:
  enabled: true
  listen: 127.0.0.1:$fed
  tls_cert: $dir/$s.pem
  tls_key: $dir/$s.key
  ca_file: $dir/ca.pem
  hosts: { a.localhost: 127.0.0.1:$a_fed, b.localhost: 127.0.0.1:$b_fed }
  allow_private_addresses: true   # both servers are on loopback, refused by default
EOF
done

main="$root/apps/server/src/main.ts"
node --conditions=weft-source "$main" --data-dir a --server-name a.localhost \
  --listen "127.0.0.1:$a_port" &
a_pid=$!
node --conditions=weft-source "$main" --data-dir b --server-name b.localhost \
  --listen "127.0.0.1:$b_port" &
b_pid=$!
trap 'kill -TERM "$a_pid" "$b_pid" 2>/dev/null; wait "$a_pid" "$b_pid" 2>/dev/null; exit 0' INT TERM
echo "federation: a.localhost http://127.0.0.1:$a_port (federation https://127.0.0.1:$a_fed)"
echo "federation: b.localhost http://127.0.0.1:$b_port (federation https://127.0.0.1:$b_fed)"
wait "$a_pid" "$b_pid"
