#!/usr/bin/env bash
# End-to-end check of running peers (deploy/peers/start.sh), using curl with a cookie jar as the
# browser and a fake SP that only exists as a registration (nothing listens on its port).
#
#   deploy/peers/smoke-test.sh STATE_DIR
#
# Covers: SP-initiated SSO (HTTP-Redirect AuthnRequest, unsigned) for alice, bob and carol;
# IdP-initiated SSO; the Response and the Assertion both signed with rsa-sha256 / sha256 digests
# and verified by xmlsec1 against the pinned idp.crt (and NOT against another certificate);
# Destination, InResponseTo, Recipient, Audience, NameID, attributes; a wrong password yields no
# SAMLResponse; an SP with an encryption certificate gets an EncryptedAssertion that decrypts and
# verifies; an SP registered with allow_idp_initiated=false is refused IdP-initiated SSO; an
# unknown SP gets SimpleSAMLphp's HTTP 200 error page. Prints one line per check; exits non-zero
# on the first failure. Removes its SP registrations when done.
set -euo pipefail

(( $# == 1 )) || { echo "usage: $0 STATE_DIR" >&2; exit 2; }
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="$(cd "$1" && pwd -P)"
[[ -r "$STATE/peers.env" ]] || { echo "smoke: $STATE/peers.env missing: are the peers running?" >&2; exit 1; }
# shellcheck disable=SC1091
source "$STATE/peers.env"

SAML="python3 $HERE/smoke_saml.py"
TMP="$(mktemp -d)"
SP_PREFIX="smoke-test-$$"
cleanup() {
  rm -f "$SP_REMOTE_DIR/$SP_PREFIX"-*.json
  [[ -n "${SMOKE_KEEP:-}" ]] || rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok   $*"; }

GROUP_ADMINS="cn=aws-admins,ou=groups,dc=example,dc=org"
GROUP_READONLY="cn=aws-readonly,ou=groups,dc=example,dc=org"

# register NAME JSON: write an SP registration atomically (temp name, then rename).
register() {
  local f="$SP_REMOTE_DIR/$SP_PREFIX-$1"
  printf '%s\n' "$2" >"$f.tmp"
  mv "$f.tmp" "$f.json"
}

SP1="http://127.0.0.1:9999/saml/metadata"
ACS1="http://127.0.0.1:9999/saml/acs"
register plain "{\"entity_id\": \"$SP1\", \"acs_url\": \"$ACS1\", \"allow_idp_initiated\": true,
  \"encrypt_cert_pem\": null, \"sign_response\": true, \"sign_assertion\": true, \"attributes_aws_role\": null}"

# An SP that wants encrypted assertions, with its own key pair.
SP2="http://127.0.0.1:9998/saml/metadata/$SP_PREFIX"   # unique: its key is per run
ACS2="http://127.0.0.1:9998/saml/acs"
openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 2 -subj "/CN=smoke SP" \
  -keyout "$TMP/sp.key" -out "$TMP/sp.crt" >/dev/null 2>&1
register encrypted "$(python3 -c '
import json, sys
print(json.dumps({"entity_id": sys.argv[1], "acs_url": sys.argv[2], "allow_idp_initiated": True,
                  "encrypt_cert_pem": open(sys.argv[3]).read(), "sign_response": True,
                  "sign_assertion": True, "attributes_aws_role": None}))' "$SP2" "$ACS2" "$TMP/sp.crt")"

# An SP that may not receive unsolicited responses.
SP3="http://127.0.0.1:9997/saml/metadata/$SP_PREFIX"
register no-idp-init "{\"entity_id\": \"$SP3\", \"acs_url\": \"http://127.0.0.1:9997/saml/acs\",
  \"allow_idp_initiated\": false}"

# A certificate the responses must NOT verify against.
openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 2 -subj "/CN=not the IdP" \
  -keyout "$TMP/other.key" -out "$TMP/other.crt" >/dev/null 2>&1

XMLSEC_VERIFY=(xmlsec1 --verify --enabled-reference-uris same-doc
  --id-attr:ID urn:oasis:names:tc:SAML:2.0:protocol:Response
  --id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion)
ASSERTION_SIG_XPATH="//*[local-name()='Assertion']/*[local-name()='Signature']"

# verify FILE CERT [XPATH]: xmlsec1 verifies the (first, or XPath-selected) signature with CERT.
verify() {
  local extra=()
  [[ -n "${3:-}" ]] && extra=(--node-xpath "$3")
  "${XMLSEC_VERIFY[@]}" "${extra[@]}" --pubkey-cert-pem "$2" "$1" >"$TMP/xmlsec.log" 2>&1
}

# sso CASE MODE SP ACS USER PASSWORD [NAMEID_FORMAT]
#   MODE sp: SP-initiated (AuthnRequest over HTTP-Redirect); idp: IdP-initiated.
#   Leaves the IdP's final page in $TMP/CASE/result.html; returns 1 if it holds no SAMLResponse.
sso() {
  local case=$1 mode=$2 sp=$3 acs=$4 user=$5 password=$6 nameid_format=${7:-}
  local dir="$TMP/$case" jar="$TMP/$case/cookies" relay="relay-$case" url code authstate out
  mkdir -p "$dir"
  if [[ $mode == sp ]]; then
    out=$($SAML authn-url "$IDP_SSO_URL" "$sp" "$acs" "$relay" $nameid_format)
    echo "${out%%$'\n'*}" >"$dir/request_id"
    url=${out#*$'\n'}
  else
    : >"$dir/request_id"
    url="$IDP_SSO_URL?$(python3 -c 'import sys, urllib.parse as u; print(u.urlencode({"spentityid": sys.argv[1], "RelayState": sys.argv[2]}))' "$sp" "$relay")"
  fi
  code=$(curl -sS -L --max-redirs 5 -c "$jar" -b "$jar" -o "$dir/login.html" -w '%{http_code}' "$url")
  [[ $code == 200 ]] || fail "$case: GET SSOService answered $code"
  authstate=$($SAML login-form "$dir/login.html") || fail "$case: no login form (see $dir/login.html)"
  code=$(curl -sS -c "$jar" -b "$jar" -o "$dir/result.html" -w '%{http_code}' \
    --data-urlencode "username=$user" --data-urlencode "password=$password" \
    --data-urlencode "AuthState=$authstate" "${IDP_BASE_URL}module.php/core/loginuserpass.php")
  [[ $code == 200 ]] || fail "$case: POST login answered $code"
  $SAML post-form "$dir/result.html" "$dir" || return 1
  [[ "$(<"$dir/action")" == "$acs" ]] || fail "$case: form posts to $(<"$dir/action"), not $acs"
  [[ -f "$dir/relay_state" && "$(<"$dir/relay_state")" == "$relay" ]] || fail "$case: RelayState not returned"
}

# check_plain CASE SP ACS USER GROUPS: a signed Response with a signed, unencrypted Assertion.
check_plain() {
  local case=$1 sp=$2 acs=$3 user=$4 groups=$5 dir="$TMP/$1" irt=()
  [[ -s "$dir/request_id" ]] && irt=(--in-response-to "$(<"$dir/request_id")")
  $SAML check "$dir/response.xml" --idp "$IDP_ENTITY_ID" --sp "$sp" --acs "$acs" --user "$user" \
    --groups "$groups" "${irt[@]}" || fail "$case: response shape (see $dir/response.xml)"
  verify "$dir/response.xml" "$IDP_CERT" || { cat "$TMP/xmlsec.log" >&2; fail "$case: Response signature"; }
  verify "$dir/response.xml" "$IDP_CERT" "$ASSERTION_SIG_XPATH" ||
    { cat "$TMP/xmlsec.log" >&2; fail "$case: Assertion signature"; }
  ! verify "$dir/response.xml" "$TMP/other.crt" || fail "$case: Response verifies with a foreign certificate"
  ! verify "$dir/response.xml" "$TMP/other.crt" "$ASSERTION_SIG_XPATH" ||
    fail "$case: Assertion verifies with a foreign certificate"
  # Tampering breaks it.
  sed "s/$user@example.org/mallory@example.org/" "$dir/response.xml" >"$dir/tampered.xml"
  ! verify "$dir/tampered.xml" "$IDP_CERT" || fail "$case: tampered Response still verifies"
}

curl -sS -o /dev/null -w '%{http_code}' "$IDP_METADATA_URL" | grep -qx 200 || fail "metadata not served"
pass "IdP metadata at $IDP_METADATA_URL"

sso alice-sp sp "$SP1" "$ACS1" alice alicepw || fail "alice-sp: no SAMLResponse form"
check_plain alice-sp "$SP1" "$ACS1" alice "$GROUP_ADMINS;$GROUP_READONLY"
pass "SP-initiated, alice: signed Response+Assertion (xmlsec1), NameID, 2 x memberOf, mail"

sso bob-sp sp "$SP1" "$ACS1" bob bobpw urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified ||
  fail "bob-sp: no SAMLResponse form"
check_plain bob-sp "$SP1" "$ACS1" bob "$GROUP_READONLY"
pass "SP-initiated, bob (NameIDPolicy unspecified): one memberOf"

sso carol-sp sp "$SP1" "$ACS1" carol carolpw || fail "carol-sp: no SAMLResponse form"
check_plain carol-sp "$SP1" "$ACS1" carol ""
pass "SP-initiated, carol: no memberOf attribute"

sso alice-idp idp "$SP1" "$ACS1" alice alicepw || fail "alice-idp: no SAMLResponse form"
check_plain alice-idp "$SP1" "$ACS1" alice "$GROUP_ADMINS;$GROUP_READONLY"
pass "IdP-initiated, alice: no InResponseTo, otherwise the same"

sso bob-idp idp "$SP1" "$ACS1" bob bobpw || fail "bob-idp: no SAMLResponse form"
check_plain bob-idp "$SP1" "$ACS1" bob "$GROUP_READONLY"
pass "IdP-initiated, bob"

if sso wrong-pw sp "$SP1" "$ACS1" alice not-the-password; then
  fail "wrong password produced a SAMLResponse"
fi
grep -q 'Incorrect username or password' "$TMP/wrong-pw/result.html" || fail "wrong password: no error message"
$SAML login-form "$TMP/wrong-pw/result.html" >/dev/null || fail "wrong password: login form not shown again"
pass "wrong password: login form again with an error, no SAMLResponse"

if sso nobody sp "$SP1" "$ACS1" nobody nobodypw; then
  fail "unknown user produced a SAMLResponse"
fi
pass "unknown user: no SAMLResponse"

sso enc sp "$SP2" "$ACS2" alice alicepw || fail "enc: no SAMLResponse form"
$SAML check "$TMP/enc/response.xml" --idp "$IDP_ENTITY_ID" --sp "$SP2" --acs "$ACS2" --user alice \
  --in-response-to "$(<"$TMP/enc/request_id")" --encrypted || fail "enc: response shape"
verify "$TMP/enc/response.xml" "$IDP_CERT" || { cat "$TMP/xmlsec.log" >&2; fail "enc: Response signature"; }
xmlsec1 --decrypt --privkey-pem "$TMP/sp.key" --output "$TMP/enc/decrypted.xml" "$TMP/enc/response.xml" \
  >"$TMP/xmlsec.log" 2>&1 || { cat "$TMP/xmlsec.log" >&2; fail "enc: xmlsec1 cannot decrypt"; }
$SAML check "$TMP/enc/decrypted.xml" --idp "$IDP_ENTITY_ID" --sp "$SP2" --acs "$ACS2" --user alice \
  --groups "$GROUP_ADMINS;$GROUP_READONLY" --in-response-to "$(<"$TMP/enc/request_id")" --assertion-only ||
  fail "enc: decrypted assertion"
verify "$TMP/enc/decrypted.xml" "$IDP_CERT" "$ASSERTION_SIG_XPATH" ||
  { cat "$TMP/xmlsec.log" >&2; fail "enc: decrypted Assertion signature"; }
pass "encrypting SP: signed Response with EncryptedAssertion; decrypts to a signed assertion"

code=$(curl -sS -o "$TMP/refused.html" -w '%{http_code}' \
  "$IDP_SSO_URL?$(python3 -c 'import sys, urllib.parse as u; print(u.urlencode({"spentityid": sys.argv[1]}))' "$SP3")")
[[ $code == 403 ]] || fail "allow_idp_initiated=false: IdP-initiated SSO answered $code"
pass "allow_idp_initiated=false: IdP-initiated SSO refused (403)"

code=$(curl -sS -o "$TMP/unknown.html" -w '%{http_code}' "$IDP_SSO_URL?spentityid=http%3A%2F%2F127.0.0.1%3A1%2Fnot-registered")
[[ $code == 200 ]] && grep -q '<title>Metadata not found</title>' "$TMP/unknown.html" &&
  ! grep -q SAMLResponse "$TMP/unknown.html" || fail "unknown SP: expected SimpleSAMLphp's error page"
pass "unknown SP: HTTP 200 error page 'Metadata not found', no SAMLResponse"

echo "smoke test passed"
