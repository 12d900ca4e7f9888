#!/usr/bin/env bash
# A private PostgreSQL cluster for development, tests and benchmarks.
#
#   scripts/pg.sh start DIR [fast]   initdb (first time) and start on a free loopback port; prints
#                                    the DATABASE_URL of its "wazapin" database. "fast" turns off
#                                    fsync and friends: for throwaway test data only.
#   scripts/pg.sh standby DIR PRIMARY_DIR [fast]
#                                    a streaming replica of the cluster in PRIMARY_DIR (running),
#                                    copied afresh with pg_basebackup -R unless it is running
#                                    already; prints the DATABASE_URL of its "wazapin" database
#   scripts/pg.sh stop DIR           stop it
#
# PostgreSQL refuses to run as root; when called as root the cluster runs as the unprivileged
# "postgres" user (created if missing).
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }

[ $# -ge 2 ] || die "usage: $0 start|stop DIR [fast] | standby DIR PRIMARY_DIR [fast]"
action=$1
dir=$(realpath -m "$2")
mode=${3:-}
primary=""
if [ "$action" = standby ]; then
  [ $# -ge 3 ] || die "usage: $0 standby DIR PRIMARY_DIR [fast]"
  primary=$(realpath -m "$3")
  mode=${4:-}
fi

bindir=""
if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
  bindir=$(pg_config --bindir)
else
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
fi
[ -n "$bindir" ] && [ -x "$bindir/initdb" ] || die "PostgreSQL server binaries (initdb, pg_ctl) not found.
Install them, e.g. on Debian/Ubuntu: apt-get install -y postgresql  (macOS: brew install postgresql@15),
or set DATABASE_URL to a database you already run."

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    (cd / && runuser -u postgres -- "$@") # from /: postgres may not be able to enter the checkout
  else
    "$@"
  fi
}

running() { [ -f "$dir/data/PG_VERSION" ] && as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; }

# The port the cluster had before, when it is still free, so that a restart keeps its URL. New
# ports come from below Linux's ephemeral range (32768-60999): a port in it can be taken, while
# a cluster is stopped, by any outgoing connection or listener on port 0 of the machine.
free_port() {
  local p
  for p in $(cat "$dir/port" 2>/dev/null) $(seq 15432 15632); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  die "no free port between 15432 and 15632"
}

# As root the cluster runs as "postgres", which cannot reach a checkout under a private home
# (such as /root). Such a checkout keeps its cluster under /var/tmp instead, one per folder.
reachable() {
  local d=$1
  if [ "$(id -u)" = 0 ]; then
    mkdir -p "$(dirname "$d")"
    if ! runuser -u postgres -- test -x "$(dirname "$d")" 2>/dev/null; then
      d="/var/tmp/wazapin-pg/$(printf '%s' "$d" | md5sum | cut -c1-16)"
      mkdir -p "$(dirname "$d")"
      chmod 755 "$(dirname "$d")"
    fi
  fi
  echo "$d"
}
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin postgres
fi
dir=$(reachable "$dir")
[ -z "$primary" ] || primary=$(reachable "$primary")

# server_opts are the settings a cluster starts with. In fast mode the WAL writer flushes every
# 10 ms rather than 200: with synchronous_commit off a commit reaches a standby only once it is
# flushed, and the replica tests read a write back within their wait for a replica.
server_opts() {
  local o="-p $1 -c listen_addresses=127.0.0.1 -k $dir -c max_connections=200 -c shared_buffers=256MB"
  if [ "$mode" = fast ]; then
    o="$o -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c wal_writer_delay=10ms"
  fi
  echo "$o"
}

url() { echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/wazapin?sslmode=disable"; }

case "$action" in
standby)
  [ -f "$primary/port" ] || die "no cluster in $primary: start it first"
  pport=$(cat "$primary/port")
  if ! running; then
    # A standby that is not running may be of another incarnation of the primary: copy afresh.
    rm -rf "$dir/data"
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_owner "$bindir/pg_basebackup" -h 127.0.0.1 -p "$pport" -U postgres -D "$dir/data" -R -X stream -c fast \
      >"$dir/basebackup.log" 2>&1 || die "pg_basebackup failed; see $dir/basebackup.log"
    port=$(free_port)
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -o "$(server_opts "$port")" -w -t 60 start >/dev/null ||
      die "the standby did not start; see $dir/postgres.log"
    echo "$port" >"$dir/port"
  fi
  url
  ;;
start)
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
      die "initdb failed; see $dir/initdb.log"
  fi
  if ! running; then
    port=$(free_port)
    opts=$(server_opts "$port")
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -o "$opts" -w -t 60 start >/dev/null ||
      die "PostgreSQL did not start; see $dir/postgres.log"
    echo "$port" >"$dir/port"
  fi
  port=$(cat "$dir/port")
  if [ -z "$(as_owner "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'wazapin'")" ]; then
    as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres wazapin
  fi
  url
  ;;
stop)
  if running; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  fi
  ;;
*)
  die "unknown action $action"
  ;;
esac
