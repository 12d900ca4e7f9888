#!/usr/bin/env bash
# A private PostgreSQL cluster for development, tests and benchmarks.
#
#   scripts/pg.sh start DIR [fast]   initdb (first time) and start on a free loopback port; prints
#                                    the DATABASE_URL of its "wazapin" database. "fast" turns off
#                                    fsync and friends: for throwaway test data only.
#   scripts/pg.sh stop DIR           stop it
#
# PostgreSQL refuses to run as root; when called as root the cluster runs as the unprivileged
# "postgres" user (created if missing).
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }

[ $# -ge 2 ] || die "usage: $0 start|stop DIR [fast]"
action=$1
dir=$(realpath -m "$2")
mode=${3:-}

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
if [ "$(id -u)" = 0 ]; then
  if ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  fi
  mkdir -p "$(dirname "$dir")"
  if ! runuser -u postgres -- test -x "$(dirname "$dir")" 2>/dev/null; then
    dir="/var/tmp/wazapin-pg/$(printf '%s' "$dir" | md5sum | cut -c1-16)"
    mkdir -p "$(dirname "$dir")"
    chmod 755 "$(dirname "$dir")"
  fi
fi

case "$action" in
start)
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
      die "initdb failed; see $dir/initdb.log"
  fi
  if ! running; then
    port=$(free_port)
    opts="-p $port -c listen_addresses=127.0.0.1 -k $dir -c max_connections=200 -c shared_buffers=256MB"
    if [ "$mode" = fast ]; then
      opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -o "$opts" -w -t 60 start >/dev/null ||
      die "PostgreSQL did not start; see $dir/postgres.log"
    echo "$port" >"$dir/port"
  fi
  port=$(cat "$dir/port")
  if [ -z "$(as_owner "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'wazapin'")" ]; then
    as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres wazapin
  fi
  echo "postgres://postgres@127.0.0.1:$port/wazapin?sslmode=disable"
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
