#!/usr/bin/env bash
# Makes sure the stores Emporium needs answer on this machine, starting (and, for the MongoDB
# stand-in, installing) what does not. Idempotent: a service that answers is left alone.
#
# PostgreSQL, Redis and RabbitMQ come with the machine; MongoDB does not exist as a package here, so the
# wire-compatible SecantusDB server (PyPI, pinned) stands in for it, in a venv under
# $EMPORIUM_TOOLS_DIR. docker-compose.yml runs a real MongoDB instead.
set -euo pipefail

TOOLS_DIR="${EMPORIUM_TOOLS_DIR:-/var/tmp/emporium-tools}"
# Host and port of EMPORIUM_MONGODB_URL (mongodb://[user@]host[:port]/...), default 127.0.0.1:27017.
mongo_authority="${EMPORIUM_MONGODB_URL:-mongodb://127.0.0.1:27017/}"
mongo_authority="${mongo_authority#mongodb://}"
mongo_authority="${mongo_authority%%[/?]*}"
mongo_authority="${mongo_authority##*@}"
MONGO_HOST="${mongo_authority%%:*}"
MONGO_PORT="27017"
[ "$mongo_authority" != "$MONGO_HOST" ] && MONGO_PORT="${mongo_authority##*:}"
SECANTUS_VERSION="0.7.0b3"

log() { printf '[ensure-services] %s\n' "$*" >&2; }

answers() { # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

wait_for() { # name host port seconds
  local i
  for ((i = 0; i < $4 * 10; i++)); do
    answers "$2" "$3" && return 0
    sleep 0.1
  done
  log "$1 did not come up on $2:$3 within $4 s"
  return 1
}

ensure_postgres() {
  answers 127.0.0.1 5432 && return 0
  log "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  wait_for PostgreSQL 127.0.0.1 5432 30
}

# The stand-in has been seen to keep answering pings while every write hangs (a WiredTiger
# session stuck; seen twice on this kind of machine). A write that does not finish in 20 s
# means it is wedged: it is restarted (it keeps its data directory).
stand_in_writes() {
  local python="$TOOLS_DIR/secantus-venv/bin/python3"
  [ -x "$python" ] || return 0
  timeout 20 "$python" - "$MONGO_HOST" "$MONGO_PORT" <<'PY' >/dev/null 2>&1
import sys, pymongo
client = pymongo.MongoClient(host=sys.argv[1], port=int(sys.argv[2]), retryWrites=False,
                             serverSelectionTimeoutMS=10000, socketTimeoutMS=15000)
client.emporium_probe.probe.insert_one({"probe": 1})
client.drop_database("emporium_probe")
PY
}

ensure_mongodb() {
  if answers "$MONGO_HOST" "$MONGO_PORT"; then
    local pid
    pid="$(pgrep -f "secantusd-py --host $MONGO_HOST --port $MONGO_PORT( |$)" || true)"
    if [ -z "$pid" ] || stand_in_writes; then
      return 0
    fi
    log "the MongoDB stand-in on $MONGO_HOST:$MONGO_PORT answers but does not finish a write: restarting it"
    kill $pid 2>/dev/null || true
    sleep 2
    kill -9 $pid 2>/dev/null || true
  fi
  case "$MONGO_HOST" in
    127.0.0.1 | localhost) ;;
    *) log "MongoDB does not answer at $MONGO_HOST:$MONGO_PORT (EMPORIUM_MONGODB_URL), and it is not local"; return 1 ;;
  esac
  local venv="$TOOLS_DIR/secantus-venv"
  if [ ! -x "$venv/bin/secantusd-py" ]; then
    log "installing the MongoDB stand-in SecantusDB==$SECANTUS_VERSION into $venv"
    mkdir -p "$TOOLS_DIR"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "SecantusDB==$SECANTUS_VERSION"
  fi
  mkdir -p "$TOOLS_DIR/mongo-data"
  log "starting SecantusDB on $MONGO_HOST:$MONGO_PORT (data in $TOOLS_DIR/mongo-data)"
  nohup "$venv/bin/secantusd-py" --host "$MONGO_HOST" --port "$MONGO_PORT" \
    --storage-path "$TOOLS_DIR/mongo-data" >"$TOOLS_DIR/secantus.log" 2>&1 &
  wait_for MongoDB "$MONGO_HOST" "$MONGO_PORT" 60
}

ensure_redis() {
  answers 127.0.0.1 6379 && return 0
  log "starting Redis (nothing on disk: the inventory rebuilds its counts from its ledger)"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for Redis 127.0.0.1 6379 30
}

ensure_rabbitmq() {
  answers 127.0.0.1 5672 && return 0
  log "starting RabbitMQ"
  rabbitmq-server -detached
  wait_for RabbitMQ 127.0.0.1 5672 90
  # The port opens before the broker accepts work; wait until it reports itself running.
  local i
  for ((i = 0; i < 60; i++)); do
    rabbitmqctl -q await_startup >/dev/null 2>&1 && return 0
    sleep 1
  done
  log "RabbitMQ did not finish starting"
  return 1
}

ensure_postgres
ensure_mongodb
ensure_redis
ensure_rabbitmq
log "PostgreSQL, MongoDB, Redis and RabbitMQ answer"
