#!/usr/bin/env bash
# `make run`: serve the API. Without DATABASE_URL, start the private PostgreSQL in .data/pg,
# migrate it, create a "Dev" workspace on the first run and print its API key every run.
set -euo pipefail
bin=$1
addr=${WAZAPIN_ADDR:-127.0.0.1:8080}
export WAZAPIN_ADDR=$addr
# Metrics on their own listener, beside the API (serve leaves them off unless asked).
metrics=${WAZAPIN_METRICS_ADDR-127.0.0.1:9464}
export WAZAPIN_METRICS_ADDR=$metrics

if [ -z "${WAZAPIN_ENCRYPTION_KEY:-}" ]; then
  # A local dev key seals channel credentials; production servers set their own.
  mkdir -p .data
  [ -s .data/encryption.key ] || (umask 077 && head -c 32 /dev/urandom | base64 >.data/encryption.key)
  WAZAPIN_ENCRYPTION_KEY=$(cat .data/encryption.key)
  export WAZAPIN_ENCRYPTION_KEY
  echo "encryption key for channel credentials: .data/encryption.key (set WAZAPIN_ENCRYPTION_KEY to use your own)"
fi

if [ -z "${DATABASE_URL:-}" ]; then
  DATABASE_URL=$(scripts/pg.sh start .data/pg)
  export DATABASE_URL
  "$bin" migrate up
  ws=.data/dev-workspace.json
  if [ ! -s "$ws" ]; then
    "$bin" workspace create --name Dev --default-region "${WAZAPIN_DEFAULT_REGION:-ID}" >"$ws.tmp"
    mv "$ws.tmp" "$ws"
  fi
  key=$(sed -n 's/.*"api_key": "\(.*\)".*/\1/p' "$ws")
  echo "database:  $DATABASE_URL (private, in .data/pg; stop it with make pg-stop)"
  echo "workspace: $(sed -n 's/.*"workspace_id": "\(.*\)".*/\1/p' "$ws") (default region $(sed -n 's/.*"default_region": "\(.*\)".*/\1/p' "$ws"))"
  echo "api key:   $key"
  echo "try:       curl -s -H 'X-Api-Key: $key' http://$addr/v1/contacts"
else
  "$bin" migrate up
  echo "database:  DATABASE_URL (migrated; no workspace was created)"
  echo "workspace: make one and its API key with: DATABASE_URL=... $bin workspace create --name NAME [--default-region ID]"
fi
echo "docs:      http://$addr/docs"
[ -z "$metrics" ] || echo "metrics:   http://$metrics/metrics"
exec "$bin" serve
