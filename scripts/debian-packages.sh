# Sourced by the scripts that install Debian packages a fresh machine may lack.
# `apt_install WHY PACKAGE...` logs WHY through the caller's `log` and installs the packages
# quietly, without recommends; it fails (and so does a `set -e` caller) when apt-get does.
apt_install() {
  local why=$1
  shift
  log "installing ${why}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
