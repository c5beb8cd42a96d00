#!/usr/bin/env bash
# Installs Python's aiosmtpd (the real SMTP server the mail tests send to) into a virtualenv at
# tests/smtp/.venv, idempotently. Called by scripts/ensure-test-tools.sh and, on first use, by
# the tests themselves (kernel::testing::TestSmtp); a lock keeps parallel callers from
# installing twice.
set -euo pipefail
cd "$(dirname "$0")/.."

version=1.4.6
venv=tests/smtp/.venv
log() { printf '[ensure-aiosmtpd] %s\n' "$*" >&2; }
# shellcheck source=scripts/debian-packages.sh
. scripts/debian-packages.sh

installed() { "$venv/bin/python" -c "import aiosmtpd, sys; sys.exit(aiosmtpd.__version__ != '$version')" 2>/dev/null; }

installed && exit 0

mkdir -p tests/smtp
exec 9>tests/smtp/.install.lock
flock 9
installed && exit 0

if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c "import ensurepip" 2>/dev/null; then
  apt_install "Debian's python3-venv" python3 python3-venv
fi

log "installing aiosmtpd $version into $venv"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "aiosmtpd==$version"
installed
