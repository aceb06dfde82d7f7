#!/usr/bin/env python3
"""Helpers for deploy/peers/oidc/smoke.sh (standard library + the openssl command only).

  smoke_oidc.py discovery FILE ISSUER                  -> checks the discovery document
  smoke_oidc.py json FILE PATH                         -> a value from a JSON file (PATH like a.b.0)
  smoke_oidc.py kids JWKS_FILE                         -> the kids in a JWKS, one per line
  smoke_oidc.py id-token TOKEN_RESPONSE JWKS EXPECT    -> checks the ID token, prints its claims

EXPECT is a JSON object: {"iss", "aud", "nonce", "alg", "sub", "email", "groups" (list or null =
absent), "groups_dn" (list or null)}. The signature is verified with `openssl dgst` against the key
of the header's kid in JWKS (the JWKS endpoint's document). at_hash must be present and match the
access token.
"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time


def b64u_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def fail(msg):
    print(f"smoke_oidc: {msg}", file=sys.stderr)
    sys.exit(1)


# --- minimal DER, enough for SubjectPublicKeyInfo and ECDSA-Sig-Value -------------------------

def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def der(tag, body):
    return bytes([tag]) + der_len(len(body)) + body


def der_int(b):
    b = b.lstrip(b"\x00") or b"\x00"
    if b[0] & 0x80:
        b = b"\x00" + b
    return der(0x02, b)


def der_oid(dotted):
    parts = [int(p) for p in dotted.split(".")]
    body = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        enc = [p & 0x7F]
        p >>= 7
        while p:
            enc.append(0x80 | (p & 0x7F))
            p >>= 7
        body += bytes(reversed(enc))
    return der(0x06, body)


def seq(*items):
    return der(0x30, b"".join(items))


def spki_pem(jwk):
    if jwk["kty"] == "RSA":
        alg = seq(der_oid("1.2.840.113549.1.1.1"), b"\x05\x00")
        key = seq(der_int(b64u_decode(jwk["n"])), der_int(b64u_decode(jwk["e"])))
    elif jwk["kty"] == "EC" and jwk.get("crv") == "P-256":
        alg = seq(der_oid("1.2.840.10045.2.1"), der_oid("1.2.840.10045.3.1.7"))
        key = b"\x04" + b64u_decode(jwk["x"]) + b64u_decode(jwk["y"])
    else:
        fail(f"unsupported key {jwk.get('kty')}/{jwk.get('crv')}")
    spki = seq(alg, der(0x03, b"\x00" + key))
    b = base64.encodebytes(spki).decode().replace("\n", "")
    lines = "\n".join(b[i:i + 64] for i in range(0, len(b), 64))
    return f"-----BEGIN PUBLIC KEY-----\n{lines}\n-----END PUBLIC KEY-----\n"


def verify_jws(token, jwks):
    h64, p64, s64 = token.split(".")
    header = json.loads(b64u_decode(h64))
    kid, alg = header.get("kid"), header.get("alg")
    matches = [k for k in jwks["keys"] if k.get("kid") == kid]
    if len(matches) != 1:
        fail(f"kid {kid!r} is not (exactly once) in the JWKS ({[k.get('kid') for k in jwks['keys']]})")
    jwk = matches[0]
    if jwk.get("alg") != alg:
        fail(f"JWKS key {kid} has alg {jwk.get('alg')}, token says {alg}")
    sig = b64u_decode(s64)
    if alg == "ES256":
        if len(sig) != 64:
            fail(f"ES256 signature has {len(sig)} bytes, want 64")
        sig = seq(der_int(sig[:32]), der_int(sig[32:]))
    elif alg != "RS256":
        fail(f"unexpected alg {alg}")
    with tempfile.TemporaryDirectory() as d:
        paths = {n: os.path.join(d, n) for n in ("key.pem", "sig", "data")}
        with open(paths["key.pem"], "w") as f:
            f.write(spki_pem(jwk))
        with open(paths["sig"], "wb") as f:
            f.write(sig)
        with open(paths["data"], "wb") as f:
            f.write(f"{h64}.{p64}".encode())
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", paths["key.pem"],
                            "-signature", paths["sig"], paths["data"]], capture_output=True, text=True)
        if r.returncode != 0 or "Verified OK" not in r.stdout:
            fail(f"signature does not verify with kid {kid}: {r.stdout.strip()} {r.stderr.strip()}")
        # And a flipped bit must not verify.
        with open(paths["data"], "wb") as f:
            f.write(f"{h64}.{p64}x".encode())
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", paths["key.pem"],
                            "-signature", paths["sig"], paths["data"]], capture_output=True, text=True)
        if r.returncode == 0:
            fail("a tampered ID token verifies")
    return header, json.loads(b64u_decode(p64))


def check_id_token(response_file, jwks_file, expect):
    with open(response_file) as f:
        resp = json.load(f)
    with open(jwks_file) as f:
        jwks = json.load(f)
    for k in ("id_token", "access_token", "token_type", "expires_in"):
        if k not in resp:
            fail(f"token response lacks {k}: {resp}")
    if "refresh_token" in resp:
        fail("a refresh token was issued")
    header, claims = verify_jws(resp["id_token"], jwks)
    if header.get("alg") != expect["alg"]:
        fail(f"alg {header.get('alg')}, want {expect['alg']}")
    if set(header) != {"alg", "kid"}:
        fail(f"unexpected header members {sorted(header)}")
    now = time.time()
    checks = [
        ("iss", claims.get("iss") == expect["iss"]),
        ("aud", claims.get("aud") == expect["aud"]),
        ("nonce", claims.get("nonce") == expect["nonce"]),
        ("sub", claims.get("sub") == expect["sub"]),
        ("email", claims.get("email") == expect["email"]),
        ("email_verified", claims.get("email_verified") is True),
        ("name", isinstance(claims.get("name"), str) and claims["name"].endswith(" Example")),
        ("iat", abs(claims.get("iat", 0) - now) < 120),
        ("exp", claims.get("exp", 0) - claims.get("iat", 0) == 3600),
        ("groups", claims.get("groups") == expect["groups"]),
        ("groups_dn", claims.get("groups_dn") == expect["groups_dn"]),
    ]
    if expect["groups"] is None:
        checks.append(("no realm_access", "realm_access" not in claims))
    else:
        checks.append(("realm_access.roles", claims.get("realm_access") == {"roles": expect["groups"]}))
    digest = hashlib.sha256(resp["access_token"].encode()).digest()
    checks.append(("at_hash", claims.get("at_hash") == b64u(digest[:16])))
    bad = [name for name, ok in checks if not ok]
    if bad:
        fail(f"ID token claims wrong ({', '.join(bad)}): {json.dumps(claims)}")
    print(json.dumps({"header": header, "claims": claims}, sort_keys=True))


def check_discovery(path, issuer):
    with open(path) as f:
        d = json.load(f)
    want = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/auth",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/me",
        "jwks_uri": f"{issuer}/jwks",
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
        "scopes_supported": ["openid", "email", "profile", "groups"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    }
    bad = {k: d.get(k) for k, v in want.items() if d.get(k) != v}
    if bad:
        fail(f"discovery document differs: {bad}")


def main(argv):
    if not argv:
        fail("usage: see the docstring")
    cmd, args = argv[0], argv[1:]
    if cmd == "discovery":
        check_discovery(args[0], args[1])
    elif cmd == "json":
        with open(args[0]) as f:
            v = json.load(f)
        for part in args[1].split(".") if args[1] else []:
            v = v[int(part)] if isinstance(v, list) else v[part]
        print(v if isinstance(v, str) else json.dumps(v))
    elif cmd == "kids":
        with open(args[0]) as f:
            for k in json.load(f)["keys"]:
                print(k["kid"])
    elif cmd == "id-token":
        check_id_token(args[0], args[1], json.loads(args[2]))
    else:
        fail(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv[1:])
