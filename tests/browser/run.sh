#!/usr/bin/env bash
# Builds switchboard, serves it on a temporary data directory and a free port, runs the
# browser tests against it, and stops it. Needs node >= 20 and Debian's chromium.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$repo/target}"

if [[ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]]; then
  echo "error: ${CHROMIUM_PATH:-/usr/bin/chromium} not found; apt-get install chromium" >&2
  exit 1
fi
if [[ ! -d "$here/node_modules/playwright-core" ]]; then
  (cd "$here" && npm ci --no-audit --no-fund)
fi

(cd "$repo" && cargo build --quiet -p switchboard)
bin="$target/debug/switchboard"

work="$(mktemp -d -t switchboard-browser-XXXXXX)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Starts `switchboard serve` (with any extra arguments) on a data directory of its own and a
# free port; sets server_pid, url and run (the directory holding its stdout and log).
start_server() {
  run="$work/run-$1"
  shift
  mkdir -p "$run"
  # The server reads only its own configuration: no switchboard.toml from the caller's
  # directory, no SWITCHBOARD_* variables meant for other runs.
  (
    cd "$run"
    for var in $(compgen -e | grep '^SWITCHBOARD_' || true); do unset "$var"; done
    exec "$bin" serve --data-dir "$run/data" --listen 127.0.0.1:0 "$@"
  ) >"$run/stdout" 2>"$run/server.log" &
  server_pid=$!
  url=""
  for _ in $(seq 1 300); do
    url="$(sed -n 's/^listening on \(http:\/\/[0-9.:]*\)$/\1/p' "$run/stdout" | head -n1)"
    [[ -n "$url" ]] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "error: switchboard serve exited early:" >&2
      cat "$run/server.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  if [[ -z "$url" ]]; then
    echo "error: switchboard serve did not report its address within 30 s" >&2
    cat "$run/server.log" >&2
    exit 1
  fi
  echo "browser tests against $url"
}

# Stops the server with SIGTERM; it must exit cleanly.
stop_server() {
  kill -TERM "$server_pid"
  if ! wait "$server_pid"; then
    echo "error: switchboard serve did not exit cleanly on SIGTERM" >&2
    status=1
  fi
  server_pid=""
}

status=0

start_server plain
BASE_URL="$url" node "$here/signup-mfa-token.test.mjs" || status=$?

# The widget test works in a workspace of its own, made with the CLI beside the running server
# on the data directory of the server started above (after the sign-up test, which needs to be
# the instance's first account).
cli() {
  (
    cd "$work"
    for var in $(compgen -e | grep '^SWITCHBOARD_' || true); do unset "$var"; done
    "$bin" --data-dir "$run/data" "$@"
  )
}
widget_token=""
if cli workspace create --name "Corner Bakery" --slug corner-bakery \
    --owner-email owner@corner-bakery.test </dev/null >"$work/workspace.out" 2>&1; then
  widget_token="$(cli token create --workspace corner-bakery --role admin --json \
    | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).token))')"
fi
if [[ -z "$widget_token" ]]; then
  echo "error: cannot create the widget test's workspace and token:" >&2
  cat "$work/workspace.out" >&2
  status=1
else
  BASE_URL="$url" WIDGET_API_TOKEN="$widget_token" \
    TEST_OUTPUT_DIR="${TEST_OUTPUT_DIR:-$here/output}" node "$here/widget.test.mjs" || status=$?
fi

# An owner deletes their own account (with re-authentication) and gets the confirmation email
# in this server's file outbox. The account is made with the CLI; its workspace has a name
# that shares nothing with the address, so the account's residue scan cannot meet it there.
delete_email="dana.leaves@example.test"
delete_password="correct horse battery staple 42"
if printf '%s' "$delete_password" | cli workspace create --name "Harbour Goods" --slug harbour-goods \
    --owner-email "$delete_email" >"$work/delete-workspace.out" 2>&1; then
  BASE_URL="$url" DELETE_EMAIL="$delete_email" DELETE_PASSWORD="$delete_password" \
    OUTBOX_DIR="$run/data/outbox" node "$here/account-deletion.test.mjs" || status=$?
else
  echo "error: cannot create the account-deletion test's account:" >&2
  cat "$work/delete-workspace.out" >&2
  status=1
fi
if [[ $status -ne 0 ]]; then
  echo "--- server log ---" >&2
  tail -n 50 "$run/server.log" >&2
fi
stop_server

# The inbox runs against the demo: its simulator stands in for WhatsApp.
start_server demo --demo
demo_email="$(sed -n 's/^Login: //p' "$run/stdout" | head -n1)"
demo_password="$(sed -n 's/^Password: //p' "$run/stdout" | head -n1)"
sim_url="$(sed -n 's/.*served by the platform simulator at \(http:\/\/[0-9.:]*\).*/\1/p' "$run/stdout" | head -n1)"
inbox_status=0
BASE_URL="$url" SIM_URL="$sim_url" DEMO_EMAIL="$demo_email" DEMO_PASSWORD="$demo_password" \
  OUTPUT_DIR="${OUTPUT_DIR:-$here/output}" node "$here/inbox.test.mjs" || inbox_status=$?
if [[ $inbox_status -ne 0 ]]; then
  echo "--- server log ---" >&2
  tail -n 50 "$run/server.log" >&2
  status=$inbox_status
fi
stop_server
exit "$status"
