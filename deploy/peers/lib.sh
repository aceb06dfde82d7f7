# Shared helpers for deploy/peers/*.sh. Sourced, not executed.
# shellcheck shell=bash

PEERS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { echo "peers: $*" >&2; exit 1; }

# True if something accepts TCP connections on 127.0.0.1:$1.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

check_port_arg() {
  [[ "$1" =~ ^[0-9]+$ ]] && (( $1 >= 1 && $1 <= 65535 )) || die "not a TCP port: '$1'"
}

# pid_alive PIDFILE COMM: the pid in PIDFILE is a running process named COMM.
pid_alive() {
  local pidfile=$1 comm=$2 pid
  [[ -s "$pidfile" ]] || return 1
  pid=$(<"$pidfile")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  ! pid_gone "$pid" || return 1
  [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$comm" ]]
}

# True if process PID no longer exists or is a zombie.
pid_gone() { # PID
  local stat
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 0
  stat=${stat##*) }
  [[ "${stat:0:1}" == Z ]]
}

# wait_until SECONDS CMD...: retry CMD every 0.1 s until it succeeds or SECONDS pass.
wait_until() {
  local deadline=$(( SECONDS + $1 )); shift
  until "$@"; do
    (( SECONDS < deadline )) || return 1
    sleep 0.1
  done
}

# Absolute path of a (possibly not yet existing) directory, created.
abs_dir() {
  mkdir -p "$1"
  (cd "$1" && pwd -P)
}
