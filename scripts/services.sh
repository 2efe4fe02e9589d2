#!/usr/bin/env bash
# Start (installing where needed) the services the test suite uses on this machine:
# PostgreSQL, Redis and InfluxDB 1.x on their usual ports (InfluxDB's data under
# ${CELLMON_SERVICES_DIR:-$HOME/.cache/cellmon-services}, outside the git checkout, so that a
# fresh clone reuses a server that already runs).
#   scripts/services.sh up      start what is not running
set -euo pipefail

postgres_up() {
  if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
  fi
  for _ in $(seq 30); do pg_isready -h 127.0.0.1 -p 5432 -q && return 0; sleep 1; done
  echo "PostgreSQL did not start" >&2; return 1
}

redis_up() {
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  fi
  for _ in $(seq 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0; sleep 1; done
  echo "Redis did not start" >&2; return 1
}

influx_ping() {
  curl -fs -o /dev/null --max-time 2 http://127.0.0.1:8086/ping
}

influxdb_up() {
  if ! command -v influxd >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y influxdb
  fi
  if ! influx_ping; then
    local home="${CELLMON_SERVICES_DIR:-${HOME:-/tmp}/.cache/cellmon-services}/influxdb"
    mkdir -p "$home"
    INFLUXDB_META_DIR="$home/meta" INFLUXDB_DATA_DIR="$home/data" \
      INFLUXDB_DATA_WAL_DIR="$home/wal" \
      setsid nohup influxd -config "$(cd "$(dirname "$0")" && pwd)/influxdb.conf" \
      >>"$home/influxd.log" 2>&1 </dev/null &
  fi
  for _ in $(seq 30); do influx_ping && return 0; sleep 1; done
  echo "InfluxDB did not start (see influxd.log under ${CELLMON_SERVICES_DIR:-${HOME:-/tmp}/.cache/cellmon-services}/influxdb)" >&2
  return 1
}

case "${1:-up}" in
  up)
    postgres_up
    redis_up
    influxdb_up
    ;;
  *) echo "usage: $0 up" >&2; exit 2 ;;
esac
