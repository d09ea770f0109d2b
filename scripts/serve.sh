#!/usr/bin/env bash
# The README's run command: provisions Node ≥ 22 and the npm packages, then starts the homeserver
# with its data (generated weft.yaml, signing key, SQLite database) in ./data, on
# http://127.0.0.1:8008 unless flags say otherwise. Extra arguments go to weft-server
# (see `bash scripts/serve.sh --help`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/provision.sh"
cd "$root"
# weft-server runs the built server (apps/server/dist); build it (seconds) so it is current.
npm run build -w apps/server --silent >/dev/null
has_data_dir=0
for arg in "$@"; do [ "$arg" = "--data-dir" ] && has_data_dir=1; done
if [ "$has_data_dir" = 1 ]; then
  exec node apps/server/bin/weft-server.js "$@"
fi
exec node apps/server/bin/weft-server.js --data-dir "$root/data" "$@"
