#!/usr/bin/env bash
# The README's test command: provisions what it needs (Node ≥ 22, npm packages, the Debian Matrix
# peers) and runs every test: build, typecheck, the whole vitest suite, lint, boundaries.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WEFT_PEERS=1 source "$root/scripts/provision.sh"
cd "$root"
npm test
