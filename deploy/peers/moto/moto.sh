# moto_server (STS/IAM emulator): functions sourced by deploy/peers/moto/start.sh, stop.sh and
# smoke.sh. Reuses die/port_open/wait_until/abs_dir from deploy/peers/lib.sh.
# shellcheck shell=bash
#
# Layout under $STATE (may be the same STATE_DIR as deploy/peers/start.sh uses; nothing clashes):
#   moto.env                     KEY=value for tests and the demo (written last, removed by stop.sh)
#   .moto.lock                   flock serialising start.sh/stop.sh on this STATE_DIR
#   moto/moto.pgid               process group (= pid) of moto_server, written by the process itself
#   moto/port                    the port it was started on
#   moto/moto.log                moto_server's stdout/stderr (werkzeug logs one line per request)
#   moto/broker-key.json         roleport-broker's access key (setup.py reuses it while it is valid)
#   moto/placeholder-idp-metadata.xml   written by setup.py when no SAML metadata file was given

# shellcheck source=../lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
MOTO_DIR="$PEERS_DIR/moto"
MOTO_VENV="${ROLEPORT_VENV:-$(cd "$PEERS_DIR/../.." && pwd)/.run/venv}"

moto_die() { die "moto: $*"; }

# Pids of the moto_server process group recorded for STATE (only processes that really are ours:
# same process group and moto_server on their command line).
moto_pids() { # STATE
  local pgfile="$1/moto/moto.pgid" pg stat rest pid pgrp pstate _ppid
  [[ -s "$pgfile" ]] || return 0
  pg=$(<"$pgfile")
  [[ "$pg" =~ ^[0-9]+$ ]] || return 0
  for stat in /proc/[0-9]*/stat; do
    { read -r rest <"$stat"; } 2>/dev/null || continue
    pid=${rest%% *}
    rest=${rest##*) }
    read -r pstate _ppid pgrp _ <<<"$rest"
    [[ "$pgrp" == "$pg" && "$pstate" != Z ]] || continue
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "moto_server -H 127.0.0.1" || continue
    echo "$pid"
  done
}

moto_running() { [[ -n "$(moto_pids "$1")" ]]; }
moto_gone() { ! moto_running "$1"; }

# moto's own management API answers 200 once the server is up.
moto_answers() { # PORT
  [[ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$1/moto-api/" 2>/dev/null)" == 200 ]]
}

moto_answers_or_died() { # STATE PORT
  moto_answers "$2" || ! moto_running "$1"
}

moto_start() { # STATE PORT
  local state=$1 port=$2 dir="$1/moto"
  mkdir -p "$dir"
  chmod 700 "$dir"
  rm -f "$dir/moto.pgid" "$dir/broker-key.json"
  port_open "$port" && moto_die "port $port on 127.0.0.1 is already in use"
  echo "$port" >"$dir/port"
  # Own session and process group (setsid); the group id is written by the process itself before
  # it becomes moto_server. No MOTO_* settings: defaults (account 123456789012, no IAM auth).
  setsid bash -c 'echo $$ >"$1/moto.pgid"; shift; exec "$@"' _ "$dir" \
    "$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$port" \
    </dev/null >"$dir/moto.log" 2>&1 8>&- 9>&- &

  if ! wait_until 5 test -s "$dir/moto.pgid" || ! wait_until 30 moto_answers_or_died "$state" "$port" ||
     ! moto_running "$state" || ! moto_answers "$port"; then
    tail -20 "$dir/moto.log" >&2 || true
    moto_die "moto_server did not come up on 127.0.0.1:$port"
  fi
}

moto_stop() { # STATE
  local state=$1 pg
  local pgfile="$state/moto/moto.pgid"
  if [[ -s "$pgfile" ]]; then
    pg=$(<"$pgfile")
    if moto_running "$state"; then
      kill -TERM -- "-$pg" 2>/dev/null || true
      if ! wait_until 10 moto_gone "$state"; then
        kill -KILL -- "-$pg" 2>/dev/null || true
        wait_until 5 moto_gone "$state" || true
      fi
    fi
  fi
  rm -f "$pgfile" "$state/moto/port" "$state/moto/broker-key.json" "$state/moto.env"
}
