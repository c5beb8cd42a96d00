#!/usr/bin/env bash
# Installs what the end-to-end tests drive besides the platform itself, idempotently:
# Debian's redis-server and redis-cli (the Redis Cluster tests), Debian's Chromium (the
# playground test opens the GraphQL playground in it) and the npm packages in tests/browser
# (playwright-core, which drives Chromium without downloading a browser of its own), the
# storefront's packages and build (the browser tests open it), Python's aiosmtpd
# (scripts/ensure-aiosmtpd.sh: the SMTP server of the mail tests), and kubectl and
# kubernetes-validate (the Kubernetes manifests' tests).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[ensure-test-tools] %s\n' "$*" >&2; }
# shellcheck source=scripts/debian-packages.sh
. scripts/debian-packages.sh

if ! command -v chromium >/dev/null 2>&1; then
  apt_install "Debian's chromium" chromium
fi

# The inventory's Redis Cluster tests start their own cluster of redis-server processes and
# join it with redis-cli (Debian's redis-server depends on redis-tools, which has redis-cli).
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  apt_install "Debian's redis-server and redis-tools" redis-server redis-tools
fi

if ! command -v node >/dev/null 2>&1; then
  apt_install "Node.js" nodejs npm
fi

# The Kubernetes manifests' tests (cli/tests/it/kubernetes.rs): kubectl builds the Kustomize
# overlays; kubernetes-validate (PyPI) checks them offline against the schemas it ships.
if ! command -v kubectl >/dev/null 2>&1; then
  apt_install "kubectl" kubectl
fi
kubernetes_validate_version=1.37.0
if [ "$(python3 -m kubernetes_validate --version 2>/dev/null)" != "$kubernetes_validate_version" ]; then
  log "installing kubernetes-validate $kubernetes_validate_version"
  python3 -m pip install --quiet --disable-pip-version-check "kubernetes-validate==$kubernetes_validate_version"
fi

# Reinstall only when the lock file changed since the last install.
stamp=tests/browser/node_modules/.installed-lock
if ! cmp -s tests/browser/package-lock.json "$stamp" 2>/dev/null; then
  log "installing tests/browser npm packages"
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
  cp tests/browser/package-lock.json "$stamp"
fi

scripts/ensure-aiosmtpd.sh

scripts/build-storefront.sh
