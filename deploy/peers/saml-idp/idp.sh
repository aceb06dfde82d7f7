# Private SimpleSAMLphp 1.19 IdP served by `php -S`: functions sourced by deploy/peers/start.sh
# and stop.sh.
# shellcheck shell=bash
#
# Layout under $STATE:
#   idp.key, idp.crt       IdP signing key and self-signed certificate (new on every start)
#   sp-remote.d/*.json     SP registrations (kept across restarts)
#   idp/config/            SIMPLESAMLPHP_CONFIG_DIR: config.php, authsources.php, peer-settings.php
#   idp/metadata/          saml20-idp-hosted.php, saml20-sp-remote.php
#   idp/lib/, idp/router.php
#   idp/log/               simplesamlphp.log (SSP), php-server.log (php -S), php-errors.log
#   idp/sessions/ idp/data/ idp/tmp/
#   idp/php.pgid           process group of php -S and its workers

SSP_WWW="${SSP_WWW:-/usr/share/simplesamlphp/www}"
IDP_WORKERS="${IDP_WORKERS:-4}"

# Pids in the php -S process group recorded for STATE (only processes that really are ours:
# same process group and our router script on their command line).
idp_pids() { # STATE
  local pgfile="$1/idp/php.pgid" pg stat rest pid pgrp pstate _ppid
  [[ -s "$pgfile" ]] || return 0
  pg=$(<"$pgfile")
  [[ "$pg" =~ ^[0-9]+$ ]] || return 0
  for stat in /proc/[0-9]*/stat; do
    # Field 5 is the process group; the command name (field 2) may contain spaces, so cut after ')'.
    { read -r rest <"$stat"; } 2>/dev/null || continue
    pid=${rest%% *}
    rest=${rest##*) }
    read -r pstate _ppid pgrp _ <<<"$rest"
    [[ "$pgrp" == "$pg" && "$pstate" != Z ]] || continue
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$1/idp/router.php" || continue
    echo "$pid"
  done
}

idp_running() { # STATE
  [[ -n "$(idp_pids "$1")" ]]
}

idp_gone() { # STATE
  ! idp_running "$1"
}

idp_answers() { # METADATA_URL
  [[ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$1" 2>/dev/null)" == 200 ]]
}

# DIRECTORY picks the user store behind the IdP: `openldap` (default; the private slapd of
# deploy/peers/ldap, LDAP_ADMIN_DN/PW set by ldap.sh) or `samba` (the AD DC of deploy/peers/samba,
# over LDAPS with its test CA; SAMBA_* set by samba.sh, LDAP_PORT unused).
idp_start() { # STATE LDAP_PORT IDP_PORT [DIRECTORY]
  local state=$1 ldap_port=$2 port=$3 directory=${4:-openldap} dir base entity
  local ldap_dn ldap_pw ldap_env=(LDAPNOINIT=1)
  case "$directory" in
    openldap) ldap_dn=$LDAP_ADMIN_DN ldap_pw=$LDAP_ADMIN_PW ;;
    samba)
      ldap_dn=$SAMBA_ADMIN_DN ldap_pw=$SAMBA_ADMIN_PW
      # PHP's ldap extension has no per-connection CA option that SimpleSAMLphp 1.19 sets:
      # libldap reads the CA from LDAPCONF (a file of ours; LDAPNOINIT would ignore it).
      printf 'TLS_CACERT %s\nTLS_REQCERT demand\n' "$SAMBA_CA_FILE" >"$state/ldap.conf"
      ldap_env=(-u LDAPNOINIT "LDAPCONF=$state/ldap.conf" "LDAPRC=$state/no-ldaprc") ;;
    *) die "idp: unknown directory '$directory' (openldap or samba)" ;;
  esac
  dir="$state/idp"
  base="http://127.0.0.1:$port/"
  entity="${base}saml2/idp/metadata.php"
  [[ -d "$SSP_WWW" ]] || die "idp: $SSP_WWW missing (is simplesamlphp installed?)"
  php -r 'exit(extension_loaded("ldap") && extension_loaded("dom") && extension_loaded("openssl") ? 0 : 1);' ||
    die "idp: php lacks the ldap, dom or openssl extension"

  rm -rf "$dir"
  mkdir -p "$dir"/{config,metadata,lib,log,sessions,data,tmp,attributemap} "$state/sp-remote.d"
  chmod 700 "$dir"
  cp "$PEERS_DIR/saml-idp/config/config.php" "$PEERS_DIR/saml-idp/config/authsources.php" "$dir/config/"
  cp "$PEERS_DIR/saml-idp/metadata/saml20-idp-hosted.php" "$PEERS_DIR/saml-idp/metadata/saml20-sp-remote.php" \
    "$dir/metadata/"
  cp "$PEERS_DIR/saml-idp/lib/sp-registry.php" "$dir/lib/"
  cp "$PEERS_DIR/saml-idp/router.php" "$dir/router.php"

  # A fresh signing key and certificate on every start.
  rm -f "$state/idp.key" "$state/idp.crt"
  if ! openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 3650 \
       -subj "/O=Roleport test peers/CN=SimpleSAMLphp IdP 127.0.0.1:$port" \
       -keyout "$state/idp.key" -out "$state/idp.crt" >"$dir/log/openssl.log" 2>&1; then
    cat "$dir/log/openssl.log" >&2
    die "idp: generating the signing key failed"
  fi
  chmod 600 "$state/idp.key"

  # Instance settings, as a PHP array (var_export does the quoting).
  ROLEPORT_PEER_SETTINGS_STATE="$state" ROLEPORT_PEER_SETTINGS_DIR="$dir" \
  ROLEPORT_PEER_SETTINGS_LDAP_PORT="$ldap_port" ROLEPORT_PEER_SETTINGS_IDP_PORT="$port" \
  ROLEPORT_PEER_SETTINGS_BASE="$base" ROLEPORT_PEER_SETTINGS_ENTITY="$entity" \
  ROLEPORT_PEER_SETTINGS_ADMIN_DN="$ldap_dn" ROLEPORT_PEER_SETTINGS_ADMIN_PW="$ldap_pw" \
  ROLEPORT_PEER_SETTINGS_DIRECTORY="$directory" ROLEPORT_PEER_SETTINGS_NETBIOS="${SAMBA_DOMAIN:-}" \
  ROLEPORT_PEER_SETTINGS_SAMBA_PORT="${SAMBA_LDAPS_PORT:-0}" ROLEPORT_PEER_SETTINGS_SAMBA_BASE="${SAMBA_BASE_DN:-}" \
  php -r '
    $e = fn($k) => getenv("ROLEPORT_PEER_SETTINGS_" . $k);
    $s = [
      "state_dir" => $e("STATE"),
      "idp_dir" => $e("DIR"),
      "ldap_port" => (int) $e("LDAP_PORT"),
      "ldap_admin_dn" => $e("ADMIN_DN"),
      "ldap_admin_pw" => $e("ADMIN_PW"),
      "directory" => $e("DIRECTORY"),
      "netbios_domain" => $e("NETBIOS"),
      "samba_ldaps_port" => (int) $e("SAMBA_PORT"),
      "samba_base_dn" => $e("SAMBA_BASE"),
      "idp_port" => (int) $e("IDP_PORT"),
      "base_url" => $e("BASE"),
      "idp_entity_id" => $e("ENTITY"),
      "idp_key" => $e("STATE") . "/idp.key",
      "idp_cert" => $e("STATE") . "/idp.crt",
      "sp_remote_dir" => $e("STATE") . "/sp-remote.d",
      "secret_salt" => bin2hex(random_bytes(24)),
      "admin_password" => bin2hex(random_bytes(16)),
    ];
    echo "<?php\n// Generated by deploy/peers/saml-idp/idp.sh at start-up.\nreturn ", var_export($s, true), ";\n";
  ' >"$dir/config/peer-settings.php"

  port_open "$port" && die "idp: port $port on 127.0.0.1 is already in use"
  # Own session and process group (setsid), so that stop.sh can end php -S and all its workers
  # together; the group id is written by the process itself before it becomes php.
  env "${ldap_env[@]}" SIMPLESAMLPHP_CONFIG_DIR="$dir/config" PHP_CLI_SERVER_WORKERS="$IDP_WORKERS" \
  setsid bash -c 'echo $$ >"$1/php.pgid"; shift; exec "$@"' _ "$dir" \
    php -d display_errors=0 -d log_errors=1 -d error_log="$dir/log/php-errors.log" \
        -d memory_limit=256M -d session.save_path="$dir/sessions" \
        -S "127.0.0.1:$port" -t "$SSP_WWW" "$dir/router.php" \
    </dev/null >"$dir/log/php-server.log" 2>&1 9>&- &

  if ! wait_until 5 test -s "$dir/php.pgid" || ! wait_until 20 idp_answers_or_died "$state" "$entity" ||
     ! idp_running "$state" || ! idp_answers "$entity"; then
    tail -20 "$dir/log/php-server.log" >&2 || true
    tail -20 "$dir/log/simplesamlphp.log" >&2 2>/dev/null || true
    die "idp: php -S did not come up, or $entity does not answer 200"
  fi
}

# For the start-up wait: done when the metadata answers, or when php -S has exited (bind error…).
idp_answers_or_died() { # STATE METADATA_URL
  idp_answers "$2" || ! idp_running "$1"
}

idp_stop() { # STATE
  local state=$1 pg pids
  local pgfile="$state/idp/php.pgid"
  [[ -s "$pgfile" ]] || return 0
  pg=$(<"$pgfile")
  pids=$(idp_pids "$state")
  if [[ -n "$pids" ]]; then
    kill -TERM -- "-$pg" 2>/dev/null || true
    if ! wait_until 10 idp_gone "$state"; then
      kill -KILL -- "-$pg" 2>/dev/null || true
      wait_until 5 idp_gone "$state" || true
    fi
  fi
  rm -f "$pgfile"
}
