# OpenID provider peer (node server.mjs, npm oidc-provider 9): functions sourced by
# deploy/peers/oidc/start.sh and stop.sh. Reuses die/port_open/wait_until/abs_dir from
# deploy/peers/lib.sh.
# shellcheck shell=bash
#
# Layout under $STATE (may be the same STATE_DIR as deploy/peers/start.sh and moto use; nothing
# clashes):
#   oidc.env                 KEY=value for tests and the demo (written last, removed by stop.sh)
#   .oidc.lock               flock serialising start.sh/stop.sh on this STATE_DIR
#   oidc-clients.d/*.json    client registrations (kept across restarts)
#   oidc/node.pgid           process group (= pid) of node, written by the process itself
#   oidc/settings            "PORT TEST_ENDPOINTS" it was started with
#   oidc/server.log          the server's stdout/stderr (one line per request, logins, key changes)
#   oidc/jwks.json           the published JWKS (public keys), rewritten on every key change
#   oidc/jwks-private.json   the same keys with private parts (0600), for tests that sign tokens

# shellcheck source=../lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
OIDC_DIR="$PEERS_DIR/oidc"
NODE="${NODE:-node}"

oidc_die() { die "oidc: $*"; }

# Pids of the node process group recorded for STATE (only processes that really are ours: same
# process group and this server.mjs on their command line).
oidc_pids() { # STATE
  local pgfile="$1/oidc/node.pgid" pg stat rest pid pgrp pstate _ppid
  [[ -s "$pgfile" ]] || return 0
  pg=$(<"$pgfile")
  [[ "$pg" =~ ^[0-9]+$ ]] || return 0
  for stat in /proc/[0-9]*/stat; do
    { read -r rest <"$stat"; } 2>/dev/null || continue
    pid=${rest%% *}
    rest=${rest##*) }
    read -r pstate _ppid pgrp _ <<<"$rest"
    [[ "$pgrp" == "$pg" && "$pstate" != Z ]] || continue
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$OIDC_DIR/server.mjs" || continue
    echo "$pid"
  done
}

oidc_running() { [[ -n "$(oidc_pids "$1")" ]]; }
oidc_gone() { ! oidc_running "$1"; }

oidc_answers() { # PORT
  [[ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' \
        "http://127.0.0.1:$1/.well-known/openid-configuration" 2>/dev/null)" == 200 ]]
}

oidc_answers_or_died() { # STATE PORT
  oidc_answers "$2" || ! oidc_running "$1"
}

oidc_start() { # STATE PORT TEST_ENDPOINTS(0|1)
  local state=$1 port=$2 test_endpoints=$3 dir="$1/oidc"
  mkdir -p "$dir" "$state/oidc-clients.d"
  chmod 700 "$dir"
  rm -f "$dir/node.pgid" "$dir/jwks.json" "$dir/jwks-private.json"
  port_open "$port" && oidc_die "port $port on 127.0.0.1 is already in use"
  echo "$port $test_endpoints" >"$dir/settings"
  # Own session and process group (setsid); the group id is written by the process itself before
  # it becomes node.
  PORT="$port" ISSUER="http://127.0.0.1:$port" STATE_DIR="$state" CLIENTS_DIR="$state/oidc-clients.d" \
  ALLOW_TEST_ENDPOINTS="$test_endpoints" NODE_ENV=production \
  setsid bash -c 'echo $$ >"$1/node.pgid"; shift; exec "$@"' _ "$dir" \
    "$NODE" "$OIDC_DIR/server.mjs" \
    </dev/null >"$dir/server.log" 2>&1 8>&- 9>&- &

  if ! wait_until 5 test -s "$dir/node.pgid" || ! wait_until 30 oidc_answers_or_died "$state" "$port" ||
     ! oidc_running "$state" || ! oidc_answers "$port"; then
    tail -20 "$dir/server.log" >&2 || true
    oidc_die "node server.mjs did not come up on 127.0.0.1:$port"
  fi
}

oidc_stop() { # STATE
  local state=$1 pg
  local pgfile="$state/oidc/node.pgid"
  if [[ -s "$pgfile" ]]; then
    pg=$(<"$pgfile")
    if oidc_running "$state"; then
      kill -TERM -- "-$pg" 2>/dev/null || true
      if ! wait_until 10 oidc_gone "$state"; then
        kill -KILL -- "-$pg" 2>/dev/null || true
        wait_until 5 oidc_gone "$state" || true
      fi
    fi
  fi
  rm -f "$pgfile" "$state/oidc/settings" "$state/oidc.env"
}
