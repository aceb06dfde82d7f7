#!/usr/bin/env bash
# End-to-end check of a running OpenID provider peer (deploy/peers/oidc/start.sh), using curl with a
# cookie jar as the browser and clients that only exist as registrations (nothing listens on their
# redirect URIs).
#
#   deploy/peers/oidc/smoke.sh STATE_DIR
#
# Covers: discovery; client registration by file (no restart); authorization code flow with PKCE
# S256, state and nonce for alice (confidential client, client_secret_basic, RS256), bob (public
# client, ES256) and carol (no groups); the login form and a wrong password (form again with the
# error, no code); RFC 9207 iss on the callback; the ID token's signature (openssl, key by kid from
# the JWKS), iss, aud, nonce, sub, email, groups, groups_dn, at_hash; userinfo; single sign-on with
# the session cookie; refusals: no code_challenge, code_challenge_method=plain, wrong code_verifier,
# code replay, unregistered redirect_uri, unknown client. With OIDC_TEST_ENDPOINTS=1 in oidc.env
# (ALLOW_TEST_ENDPOINTS=1 at start) also key rotation: rotate (new kid signs, old kid still
# published), retire (old kid gone). Prints one line per check; exits non-zero on the first failure.
# Removes its registrations when done; SMOKE_KEEP=1 keeps its temporary directory.
#
# The rotation part changes the server's keys: do not run it against a server that other tests use
# at the same time (SMOKE_ROTATE=0 skips it).
set -euo pipefail

(( $# == 1 )) || { echo "usage: $0 STATE_DIR" >&2; exit 2; }
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="$(cd "$1" && pwd -P)"
[[ -r "$STATE/oidc.env" ]] || { echo "smoke: $STATE/oidc.env missing: is the OpenID provider running?" >&2; exit 1; }
# shellcheck disable=SC1091
source "$STATE/oidc.env"

PY="python3 $HERE/smoke_oidc.py"
TMP="$(mktemp -d)"
PREFIX="smoke-$$"
cleanup() {
  rm -f "$OIDC_CLIENTS_DIR/$PREFIX"-*.json
  [[ -n "${SMOKE_KEEP:-}" ]] || rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok   $*"; }

JAR="$TMP/jar"
REDIRECT="http://127.0.0.1:9999/oidc/callback"

# req CURL_ARGS...: one request with the cookie jar, no redirects followed; headers to $TMP/h, body
# to $TMP/b; prints the status.
req() {
  curl -s -S -m 10 -b "$JAR" -c "$JAR" -D "$TMP/h" -o "$TMP/b" -w '%{http_code}' "$@"
}
location() { sed -n 's/^[Ll]ocation: \(.*\)\r$/\1/p' "$TMP/h" | tail -1; }

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
random() { openssl rand 32 | b64url; }

# qparam URL NAME: the (URL-decoded) query parameter NAME of URL; exit status 1 if absent.
qparam() {
  local query=${1#*\?} pair v
  [[ "$query" != "$1" ]] || return 1
  query=${query%%#*}
  local IFS='&'
  for pair in $query; do
    if [[ "${pair%%=*}" == "$2" ]]; then
      v=${pair#*=}
      v=${v//+/ }
      printf '%b\n' "${v//%/\\x}"
      return 0
    fi
  done
  return 1
}

# register NAME JSON: write a client registration atomically (temp name, then rename).
register() {
  local f="$OIDC_CLIENTS_DIR/$PREFIX-$1"
  printf '%s\n' "$2" >"$f.tmp"
  mv "$f.tmp" "$f.json"
}

# authorize CLIENT [--no-pkce] [NAME=VALUE...]: a fresh state, nonce and PKCE pair, then
# GET /auth; sets STATUS and LOC.
authorize() {
  local client=$1 pkce=1 kv
  shift
  if [[ "${1:-}" == --no-pkce ]]; then pkce=0; shift; fi
  VERIFIER=$(random)
  CHALLENGE=$(printf %s "$VERIFIER" | openssl dgst -sha256 -binary | b64url)
  STATE_PARAM=$(random)
  NONCE=$(random)
  local args=(-G --data-urlencode "client_id=$client" --data-urlencode "response_type=code"
    --data-urlencode "scope=openid email profile groups" --data-urlencode "redirect_uri=$REDIRECT"
    --data-urlencode "state=$STATE_PARAM" --data-urlencode "nonce=$NONCE")
  (( pkce == 0 )) || args+=(--data-urlencode "code_challenge=$CHALLENGE" --data-urlencode "code_challenge_method=S256")
  for kv in "$@"; do args+=(--data-urlencode "$kv"); done
  STATUS=$(req "${args[@]}" "$OIDC_AUTHORIZATION_URL")
  LOC=$(location)
}

# expect_callback WHAT: LOC is the redirect URI with state, iss and a code (sets CODE).
expect_callback() {
  [[ "$STATUS" == 303 && "$LOC" == "$REDIRECT?"* ]] || fail "$1: want 303 to $REDIRECT, got $STATUS ${LOC:-(no Location)}"
  CODE=$(qparam "$LOC" code) || fail "$1: no code in $LOC"
  [[ "$(qparam "$LOC" state)" == "$STATE_PARAM" ]] || fail "$1: state differs in $LOC"
  [[ "$(qparam "$LOC" iss)" == "$OIDC_ISSUER" ]] || fail "$1: iss is not $OIDC_ISSUER in $LOC"
}

# expect_error WHAT ERROR: LOC is the redirect URI with error=ERROR, state and iss.
expect_error() {
  [[ "$STATUS" == 303 && "$LOC" == "$REDIRECT?"* ]] || fail "$1: want 303 to $REDIRECT, got $STATUS ${LOC:-(no Location)}"
  [[ "$(qparam "$LOC" error)" == "$2" ]] || fail "$1: want error=$2 in $LOC"
  ! qparam "$LOC" code >/dev/null || fail "$1: a code in $LOC"
  [[ "$(qparam "$LOC" state)" == "$STATE_PARAM" ]] || fail "$1: state differs in $LOC"
  [[ "$(qparam "$LOC" iss)" == "$OIDC_ISSUER" ]] || fail "$1: iss is not $OIDC_ISSUER in $LOC"
}

# login_form: LOC is the login interaction; GET it, check the form (sets IUID).
login_form() {
  [[ "$STATUS" == 303 && "$LOC" =~ ^"$OIDC_ISSUER"/interaction/([A-Za-z0-9_-]+)$ ]] ||
    fail "authorize: want 303 to $OIDC_ISSUER/interaction/<uid>, got $STATUS ${LOC:-(no Location)}"
  IUID=${BASH_REMATCH[1]}
  STATUS=$(req "$LOC")
  [[ "$STATUS" == 200 ]] || fail "login form: HTTP $STATUS"
  grep -qF "<form method=\"post\" action=\"/interaction/$IUID/login\" id=\"login\">" "$TMP/b" || fail "login form: no form"
  grep -qF '<input type="text" id="username" name="username"' "$TMP/b" || fail "login form: no username field"
  grep -qF '<input type="password" id="password" name="password"' "$TMP/b" || fail "login form: no password field"
  ! grep -q 'id="error"' "$TMP/b" || fail "login form: shows an error before any attempt"
}

# submit USER PASSWORD: POST the login form; sets STATUS and LOC.
submit() {
  STATUS=$(req --data-urlencode "username=$1" --data-urlencode "password=$2" "$OIDC_ISSUER/interaction/$IUID/login")
  LOC=$(location)
}

# exchange CLIENT SECRET|- [VERIFIER]: POST /token; sets STATUS, body in $TMP/token.json.
exchange() {
  local auth=()
  if [[ "$2" == - ]]; then auth=(--data-urlencode "client_id=$1"); else auth=(-u "$1:$2"); fi
  STATUS=$(curl -s -S -m 10 -o "$TMP/token.json" -w '%{http_code}' "${auth[@]}" \
    --data-urlencode grant_type=authorization_code --data-urlencode "code=$CODE" \
    --data-urlencode "redirect_uri=$REDIRECT" --data-urlencode "code_verifier=${3:-$VERIFIER}" "$OIDC_TOKEN_URL")
}

fetch_jwks() {
  [[ "$(curl -s -S -m 10 -o "$TMP/jwks.json" -w '%{http_code}' "$OIDC_JWKS_URL")" == 200 ]] || fail "GET $OIDC_JWKS_URL"
}

# check_id_token USER ALG CLIENT GROUPS_JSON: verify $TMP/token.json's ID token.
check_id_token() {
  local user=$1 alg=$2 client=$3 groups=$4 dns=null
  if [[ "$groups" != null ]]; then
    dns=$(python3 -c 'import json,sys; print(json.dumps(["cn=%s,ou=groups,dc=example,dc=org" % g for g in json.loads(sys.argv[1])]))' "$groups")
  fi
  fetch_jwks
  $PY id-token "$TMP/token.json" "$TMP/jwks.json" "{\"iss\": \"$OIDC_ISSUER\", \"aud\": \"$client\",
    \"nonce\": \"$NONCE\", \"alg\": \"$alg\", \"sub\": \"$user\", \"email\": \"$user@example.org\",
    \"groups\": $groups, \"groups_dn\": $dns}" >"$TMP/claims.json" || fail "ID token of $user"
}

# --- discovery ---------------------------------------------------------------------------------
[[ "$(curl -s -S -m 10 -o "$TMP/disc.json" -w '%{http_code}' "$OIDC_DISCOVERY_URL")" == 200 ]] || fail "discovery"
$PY discovery "$TMP/disc.json" "$OIDC_ISSUER" || fail "discovery document"
pass "discovery at $OIDC_DISCOVERY_URL (issuer, endpoints, S256 only, RFC 9207, scopes, RS256+ES256)"

# --- clients (registered now: no restart) ------------------------------------------------------
CONF="$PREFIX-conf"; SECRET="s3cret-$PREFIX"
PUB="$PREFIX-pub"
register conf "{\"client_id\": \"$CONF\", \"client_secret\": \"$SECRET\", \"redirect_uris\": [\"$REDIRECT\"],
  \"id_token_signed_response_alg\": \"RS256\"}"
register pub "{\"client_id\": \"$PUB\", \"client_secret\": null, \"redirect_uris\": [\"$REDIRECT\"],
  \"id_token_signed_response_alg\": \"ES256\"}"

# --- alice: wrong password, then the right one ---------------------------------------------------
authorize "$CONF"
login_form
pass "GET /auth -> 303 $OIDC_ISSUER/interaction/<uid> -> 200 login form (action /interaction/<uid>/login)"
submit alice wrong-password
[[ "$STATUS" == 200 && -z "$LOC" ]] || fail "wrong password: want 200 without Location, got $STATUS $LOC"
grep -qF '<p class="error" id="error">Invalid username or password.</p>' "$TMP/b" || fail "wrong password: no error text"
grep -qF '<input type="text" id="username" name="username" value="alice"' "$TMP/b" || fail "wrong password: username not kept"
submit nobody nobodypw
[[ "$STATUS" == 200 && -z "$LOC" ]] && grep -q 'id="error"' "$TMP/b" || fail "unknown user: want the form with the error"
pass "wrong password / unknown user: 200, the form again with 'Invalid username or password.', no redirect"
submit alice alicepw
[[ "$STATUS" == 303 && "$LOC" == "$OIDC_ISSUER/auth/$IUID" ]] || fail "login: want 303 to $OIDC_ISSUER/auth/$IUID, got $STATUS $LOC"
STATUS=$(req "$LOC"); LOC=$(location)
expect_callback "alice"
pass "alice: POST login -> 303 /auth/<uid> -> 303 $REDIRECT?code=…&state=…&iss=$OIDC_ISSUER"
exchange "$CONF" "$SECRET"
[[ "$STATUS" == 200 ]] || fail "token: HTTP $STATUS $(cat "$TMP/token.json")"
check_id_token alice RS256 "$CONF" '["aws-admins", "aws-readonly"]'
pass "alice: token (client_secret_basic) -> ID token RS256, kid $($PY json "$TMP/claims.json" header.kid) in JWKS, signature, iss, aud, nonce, email, groups, groups_dn, at_hash"
AT=$($PY json "$TMP/token.json" access_token)
[[ "$(curl -s -S -m 10 -o "$TMP/me.json" -w '%{http_code}' -H "Authorization: Bearer $AT" "$OIDC_USERINFO_URL")" == 200 ]] || fail "userinfo"
[[ "$($PY json "$TMP/me.json" groups)" == '["aws-admins", "aws-readonly"]' && "$($PY json "$TMP/me.json" sub)" == alice ]] || fail "userinfo claims"
pass "alice: userinfo has sub and groups"
FIRST_CODE=$CODE FIRST_VERIFIER=$VERIFIER

# --- single sign-on: the session cookie gives a code at once; prompt=login asks again ----------
authorize "$CONF"
expect_callback "alice again"
exchange "$CONF" "$SECRET"
[[ "$STATUS" == 200 ]] || fail "token (SSO): HTTP $STATUS"
check_id_token alice RS256 "$CONF" '["aws-admins", "aws-readonly"]'
pass "session: a second /auth answers 303 with a code at once (no form)"

# --- code replay: refused, and the grant behind it is revoked -----------------------------------
CODE=$FIRST_CODE
exchange "$CONF" "$SECRET" "$FIRST_VERIFIER"
[[ "$STATUS" == 400 && "$($PY json "$TMP/token.json" error)" == invalid_grant ]] || fail "code replay: want 400 invalid_grant, got $STATUS"
[[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $AT" "$OIDC_USERINFO_URL")" == 401 ]] ||
  fail "code replay: the access token of the replayed code still works"
pass "code replay: 400 invalid_grant; the grant's tokens are revoked (userinfo 401)"
# With the grant gone, the session user passes through the (automatic) consent interaction.
authorize "$CONF"
[[ "$STATUS" == 303 && "$LOC" =~ ^"$OIDC_ISSUER"/interaction/([A-Za-z0-9_-]+)$ ]] || fail "consent: want 303 to the interaction, got $STATUS $LOC"
IUID=${BASH_REMATCH[1]}
STATUS=$(req "$LOC"); LOC=$(location)
[[ "$STATUS" == 303 && "$LOC" == "$OIDC_ISSUER/auth/$IUID" ]] || fail "consent: want 303 to /auth/$IUID, got $STATUS $LOC"
STATUS=$(req "$LOC"); LOC=$(location)
expect_callback "alice after consent"
pass "consent (session, no grant): 303 /interaction/<uid> -> 303 /auth/<uid> -> 303 callback with code, no form"
authorize "$CONF" prompt=login
login_form
pass "prompt=login shows the login form despite the session"

# --- bob: public client, ES256 ---------------------------------------------------------------
rm -f "$JAR"
authorize "$PUB"
login_form
submit bob bobpw
STATUS=$(req "$LOC"); LOC=$(location)
expect_callback "bob"
exchange "$PUB" - "wrong-verifier-$VERIFIER"
[[ "$STATUS" == 400 && "$($PY json "$TMP/token.json" error)" == invalid_grant ]] || fail "wrong code_verifier: want 400 invalid_grant, got $STATUS"
authorize "$PUB"
expect_callback "bob again"
exchange "$PUB" -
[[ "$STATUS" == 200 ]] || fail "token (public): HTTP $STATUS $(cat "$TMP/token.json")"
check_id_token bob ES256 "$PUB" '["aws-readonly"]'
pass "bob: public client (client_id in the body, no secret), ES256 ID token, groups [aws-readonly]; wrong code_verifier: invalid_grant"

# --- carol: no groups ---------------------------------------------------------------------------
rm -f "$JAR"
authorize "$CONF"
login_form
submit carol carolpw
STATUS=$(req "$LOC"); LOC=$(location)
expect_callback "carol"
exchange "$CONF" "$SECRET"
check_id_token carol RS256 "$CONF" null
pass "carol: ID token without groups, groups_dn and realm_access"

# --- refusals ----------------------------------------------------------------------------------
rm -f "$JAR"
authorize "$CONF" --no-pkce
expect_error "no code_challenge" invalid_request
[[ "$(qparam "$LOC" error_description)" == *PKCE* ]] || fail "no code_challenge: error_description"
authorize "$CONF" --no-pkce code_challenge=abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqr code_challenge_method=plain
expect_error "code_challenge_method=plain" invalid_request
pass "no code_challenge / method plain: 303 $REDIRECT?error=invalid_request&error_description=…&state=…&iss=…"
REDIRECT_SAVED=$REDIRECT; REDIRECT="http://127.0.0.1:9999/elsewhere"
authorize "$CONF"
REDIRECT=$REDIRECT_SAVED
[[ "$STATUS" == 400 && -z "$LOC" ]] && grep -qF '<p class="error" id="error">invalid_redirect_uri</p>' "$TMP/b" ||
  fail "unregistered redirect_uri: want a 400 error page, got $STATUS $LOC"
authorize "$PREFIX-unknown"
[[ "$STATUS" == 400 && -z "$LOC" ]] && grep -qF '<p class="error" id="error">invalid_client</p>' "$TMP/b" ||
  fail "unknown client: want a 400 error page, got $STATUS $LOC"
pass "unregistered redirect_uri / unknown client: 400 error page, no redirect"

# --- a registration edited in place takes effect at once ---------------------------------------
register conf "{\"client_id\": \"$CONF\", \"client_secret\": \"$SECRET\", \"redirect_uris\": [\"$REDIRECT\", \"http://127.0.0.1:9999/elsewhere\"]}"
REDIRECT="http://127.0.0.1:9999/elsewhere"
authorize "$CONF"
REDIRECT=$REDIRECT_SAVED
[[ "$STATUS" == 303 && "$LOC" == "$OIDC_ISSUER/interaction/"* ]] || fail "edited registration: got $STATUS $LOC"
pass "edited registration (second redirect_uri) is used at once"

# --- key rotation ------------------------------------------------------------------------------
if [[ "${OIDC_TEST_ENDPOINTS:-0}" != 1 ]]; then
  [[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$OIDC_ISSUER/__test/rotate")" == 404 ]] || fail "test endpoints answer although off"
  pass "test endpoints are off (ALLOW_TEST_ENDPOINTS=1 at start enables them): rotation not exercised"
elif [[ "${SMOKE_ROTATE:-1}" == 0 ]]; then
  pass "rotation skipped (SMOKE_ROTATE=0)"
else
  fetch_jwks
  OLD_KIDS=$($PY kids "$TMP/jwks.json" | sort | tr '\n' ' ')
  [[ "$(curl -s -S -m 30 -o "$TMP/keys0.json" -w '%{http_code}' "$OIDC_ISSUER/__test/keys")" == 200 ]] || fail "GET /__test/keys"
  OLD_RS=$($PY json "$TMP/keys0.json" active.RS256)
  [[ "$(curl -s -S -m 30 -o "$TMP/keys1.json" -w '%{http_code}' -X POST "$OIDC_ISSUER/__test/rotate")" == 200 ]] || fail "POST /__test/rotate"
  NEW_RS=$($PY json "$TMP/keys1.json" active.RS256)
  [[ "$NEW_RS" != "$OLD_RS" ]] || fail "rotate: the active RS256 kid did not change"
  fetch_jwks
  NEW_KIDS=$($PY kids "$TMP/jwks.json" | sort | tr '\n' ' ')
  echo "     JWKS before: $OLD_KIDS"
  echo "     JWKS after rotate: $NEW_KIDS"
  for k in $OLD_KIDS "$NEW_RS"; do
    [[ " $NEW_KIDS " == *" $k "* ]] || fail "rotate: kid $k not in the JWKS"
  done
  python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); sys.exit(a!=b)' "$TMP/jwks.json" "$OIDC_JWKS_FILE" ||
    fail "rotate: $OIDC_JWKS_FILE differs from the JWKS endpoint"
  authorize "$CONF"
  login_form
  submit alice alicepw
  STATUS=$(req "$LOC"); LOC=$(location)
  expect_callback "alice after rotation"
  exchange "$CONF" "$SECRET"
  check_id_token alice RS256 "$CONF" '["aws-admins", "aws-readonly"]'
  [[ "$($PY json "$TMP/claims.json" header.kid)" == "$NEW_RS" ]] || fail "rotate: ID token not signed with the new kid"
  pass "rotate: new RS256 kid $NEW_RS signs, the old one $OLD_RS stays in the JWKS (and oidc/jwks.json)"
  [[ "$(curl -s -S -m 30 -o "$TMP/keys2.json" -w '%{http_code}' -X POST "$OIDC_ISSUER/__test/retire")" == 200 ]] || fail "POST /__test/retire"
  fetch_jwks
  RETIRED_KIDS=$($PY kids "$TMP/jwks.json" | sort | tr '\n' ' ')
  echo "     JWKS after retire: $RETIRED_KIDS"
  [[ " $RETIRED_KIDS " != *" $OLD_RS "* && " $RETIRED_KIDS " == *" $NEW_RS "* ]] || fail "retire: JWKS is $RETIRED_KIDS"
  [[ "$($PY json "$TMP/keys2.json" published | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" == 2 ]] ||
    fail "retire: want 2 published keys (one RS256, one ES256)"
  pass "retire: only the active keys (RS256 $NEW_RS and one ES256) remain in the JWKS"
fi

echo "smoke: all OpenID provider checks passed"
