#!/usr/bin/env bash
# Builds the storefront (storefront/dist, which the router serves at /) when its sources or
# lockfile changed since the last build: `npm ci` when package-lock.json changed, `vite build`
# when anything the build reads changed. Idempotent; a no-op takes well under a second.
set -euo pipefail
cd "$(dirname "$0")/../storefront"

log() { printf '[build-storefront] %s\n' "$*" >&2; }
# shellcheck source=scripts/debian-packages.sh
. ../scripts/debian-packages.sh

if ! command -v node >/dev/null 2>&1; then
  apt_install "Node.js" nodejs npm
fi

installed=node_modules/.installed-lock
if ! cmp -s package-lock.json "$installed" 2>/dev/null; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$installed"
fi

# Everything the build reads, hashed: a change to any of them rebuilds.
sources_hash() {
  local inputs=(src index.html package.json package-lock.json vite.config.ts tsconfig.json)
  [ -d public ] && inputs+=(public)
  find "${inputs[@]}" -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1
}
stamp=.build-stamp
want="$(sources_hash)"
if [ -f dist/index.html ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
log "vite build"
npx vite build --logLevel warn
echo "$want" > "$stamp"
