# Private OpenLDAP instance: functions sourced by deploy/peers/start.sh and stop.sh.
# shellcheck shell=bash
#
# Layout under $STATE/ldap: slapd.conf (rendered; slapd runs from it with -f, no cn=config),
# data/ (mdb), slapd.pid, slapd.args, slapd.log (stderr of slapd), seed.ldif (rendered).
# (slaptest cannot convert slapd.conf into a slapd.d before the database exists, and nothing here
# needs run-time configuration changes, so the plain file is used.)

LDAP_SUFFIX="dc=example,dc=org"
LDAP_ADMIN_DN="cn=admin,dc=example,dc=org"
LDAP_ADMIN_PW="adminpw"
# The schema files ship with the slapd package; nothing else under /etc is used.
LDAP_SCHEMA_DIR="${LDAP_SCHEMA_DIR:-/etc/ldap/schema}"
# libldap clients (ldapsearch, ldapadd, PHP's ldap extension in the IdP) ignore /etc/ldap/ldap.conf
# and ~/.ldaprc, so a configured machine behaves like a fresh one.
export LDAPNOINIT=1

ldap_running() { # STATE
  pid_alive "$1/ldap/slapd.pid" slapd
}

ldap_answers() { # URL
  ldapsearch -x -LLL -o nettimeout=2 -H "$1" -D "$LDAP_ADMIN_DN" -w "$LDAP_ADMIN_PW" \
    -b "$LDAP_SUFFIX" -s base dn >/dev/null 2>&1
}

ldap_root_dse_answers() { # URL
  ldapsearch -x -LLL -o nettimeout=2 -H "$1" -b "" -s base namingContexts >/dev/null 2>&1
}

# memberOf values of uid=$2, one per line.
ldap_member_of() { # URL UID
  ldapsearch -x -LLL -o ldif-wrap=no -H "$1" -D "$LDAP_ADMIN_DN" -w "$LDAP_ADMIN_PW" \
    -b "ou=people,$LDAP_SUFFIX" "(uid=$2)" memberOf | sed -n 's/^memberOf: //p'
}

ldap_verify_seed() { # URL
  local url=$1 alice bob carol
  alice=$(ldap_member_of "$url" alice | sort | tr '\n' ';')
  bob=$(ldap_member_of "$url" bob | sort | tr '\n' ';')
  carol=$(ldap_member_of "$url" carol | sort | tr '\n' ';')
  [[ "$alice" == "cn=aws-admins,ou=groups,$LDAP_SUFFIX;cn=aws-readonly,ou=groups,$LDAP_SUFFIX;" ]] ||
    die "ldap: unexpected memberOf for alice: '$alice'"
  [[ "$bob" == "cn=aws-readonly,ou=groups,$LDAP_SUFFIX;" ]] || die "ldap: unexpected memberOf for bob: '$bob'"
  [[ -z "$carol" ]] || die "ldap: unexpected memberOf for carol: '$carol'"
}

ldap_start() { # STATE PORT
  local state=$1 port=$2 dir url hash
  dir="$state/ldap"
  url="ldap://127.0.0.1:$port"
  for f in core cosine inetorgperson; do
    [[ -r "$LDAP_SCHEMA_DIR/$f.schema" ]] || die "ldap: schema $LDAP_SCHEMA_DIR/$f.schema missing (is slapd installed?)"
  done

  # A fresh directory on every start: tests rely on the seed data and nothing else.
  rm -rf "$dir"
  mkdir -p "$dir/data"
  chmod 700 "$dir"

  hash=$(slappasswd -h '{SSHA}' -s "$LDAP_ADMIN_PW")
  sed -e "s|@SCHEMA_DIR@|$LDAP_SCHEMA_DIR|g" -e "s|@LDAP_DIR@|$dir|g" -e "s|@ROOTPW_HASH@|$hash|g" \
    "$PEERS_DIR/ldap/slapd.conf.in" >"$dir/slapd.conf"
  sed -e "s|@ALICE_PW@|$(slappasswd -h '{SSHA}' -s alicepw)|" \
      -e "s|@BOB_PW@|$(slappasswd -h '{SSHA}' -s bobpw)|" \
      -e "s|@CAROL_PW@|$(slappasswd -h '{SSHA}' -s carolpw)|" \
    "$PEERS_DIR/ldap/seed.ldif.in" >"$dir/seed.ldif"

  if ! slaptest -u -f "$dir/slapd.conf" >"$dir/slaptest.log" 2>&1; then
    cat "$dir/slaptest.log" >&2
    die "ldap: slaptest rejects $dir/slapd.conf"
  fi

  port_open "$port" && die "ldap: port $port on 127.0.0.1 is already in use"
  # slapd forks into the background itself and writes slapd.pid; it runs as root (no -u/-g),
  # so the state directory needs no particular ownership. fd 9 is start.sh's lock: not inherited.
  if ! slapd -h "$url/" -f "$dir/slapd.conf" </dev/null >"$dir/slapd.log" 2>&1 9>&-; then
    cat "$dir/slapd.log" >&2
    die "ldap: slapd failed to start (port in use? 'slapd -d 1 -h $url/ -f $dir/slapd.conf' shows why)"
  fi
  if ! wait_until 20 ldap_root_dse_answers "$url"; then
    cat "$dir/slapd.log" >&2
    die "ldap: slapd does not answer on $url"
  fi
  wait_until 5 ldap_running "$state" || die "ldap: slapd answers but $dir/slapd.pid is not a live slapd"

  if ! ldapadd -x -H "$url" -D "$LDAP_ADMIN_DN" -w "$LDAP_ADMIN_PW" -f "$dir/seed.ldif" \
       >"$dir/ldapadd.log" 2>&1; then
    cat "$dir/ldapadd.log" >&2
    die "ldap: loading the seed entries failed"
  fi
  ldap_verify_seed "$url"
}

ldap_stop() { # STATE
  local pidfile="$1/ldap/slapd.pid" pid
  if ldap_running "$1"; then
    pid=$(<"$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_until 15 pid_gone "$pid"; then
      kill -KILL "$pid" 2>/dev/null || true
      wait_until 5 pid_gone "$pid" || true
    fi
  fi
  rm -f "$pidfile"
}
