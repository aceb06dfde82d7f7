// Roleport test peer: an OpenID provider (npm oidc-provider v9) on 127.0.0.1 with the demo users of
// the LDAP directory, a real password check, PKCE (S256) required for every client, clients
// registered by dropping JSON files into a directory, and (for tests) signing key rotation on demand.
// See README.md in this directory for everything a client can rely on.
//
// Configuration (environment):
//   PORT                  TCP port on 127.0.0.1 (required)
//   ISSUER                issuer identifier, default http://127.0.0.1:$PORT (origin only, no path)
//   STATE_DIR             where the server keeps its files, default the current directory;
//                         it writes $STATE_DIR/oidc/jwks.json (public keys) and
//                         $STATE_DIR/oidc/jwks-private.json (0600) after every key change
//   CLIENTS_DIR           client registrations (*.json), default $STATE_DIR/oidc-clients.d
//   ALLOW_TEST_ENDPOINTS  1: serve POST /__test/rotate, POST /__test/retire, GET /__test/keys
//
// Sessions, interactions, grants, codes and tokens live in memory (lost on restart).

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';

import Provider from 'oidc-provider';

// ---------------------------------------------------------------------------------------------
// Settings

const PORT = Number.parseInt(process.env.PORT ?? '', 10);
if (!Number.isInteger(PORT) || PORT < 1 || PORT > 65535) {
  console.error('oidc-peer: PORT must be a TCP port');
  process.exit(2);
}
const ISSUER = process.env.ISSUER || `http://127.0.0.1:${PORT}`;
{
  const u = new URL(ISSUER);
  if (u.pathname !== '/' || ISSUER.endsWith('/') || u.search || u.hash) {
    console.error(`oidc-peer: ISSUER must be an origin without a path or trailing slash: ${ISSUER}`);
    process.exit(2);
  }
}
const STATE_DIR = path.resolve(process.env.STATE_DIR || '.');
const CLIENTS_DIR = path.resolve(process.env.CLIENTS_DIR || path.join(STATE_DIR, 'oidc-clients.d'));
const KEYS_DIR = path.join(STATE_DIR, 'oidc');
const TEST_ENDPOINTS = process.env.ALLOW_TEST_ENDPOINTS === '1';

fs.mkdirSync(CLIENTS_DIR, { recursive: true });
fs.mkdirSync(KEYS_DIR, { recursive: true });

const log = (...args) => console.log(new Date().toISOString(), ...args);

// ---------------------------------------------------------------------------------------------
// Demo users: the same as deploy/peers/ldap/seed.ldif.in (uid, password, mail, cn, memberOf).

const GROUP_BASE = 'ou=groups,dc=example,dc=org';
const USERS = new Map(Object.entries({
  alice: { password: 'alicepw', given: 'Alice', groups: ['aws-admins', 'aws-readonly'] },
  bob: { password: 'bobpw', given: 'Bob', groups: ['aws-readonly'] },
  carol: { password: 'carolpw', given: 'Carol', groups: [] },
}));

function accountClaims(uid) {
  const u = USERS.get(uid);
  const claims = {
    sub: uid,
    email: `${uid}@example.org`,
    email_verified: true,
    name: `${u.given} Example`,
    given_name: u.given,
    family_name: 'Example',
    preferred_username: uid,
  };
  // Like LDAP memberOf (and the SAML peer): no group claims at all for a user without groups.
  if (u.groups.length) {
    claims.groups = [...u.groups];
    claims.groups_dn = u.groups.map((cn) => `cn=${cn},${GROUP_BASE}`);
    claims.realm_access = { roles: [...u.groups] };
  }
  return claims;
}

// Constant-time-ish password check (the demo does not need more, but it is a real check).
function checkPassword(uid, password) {
  const u = USERS.get(uid);
  const want = Buffer.from(u ? u.password : 'x'.repeat(16));
  const got = Buffer.from(String(password));
  const same = want.length === got.length && crypto.timingSafeEqual(want, got);
  return Boolean(u) && same;
}

// ---------------------------------------------------------------------------------------------
// Signing keys. RSA-2048 (RS256) and P-256 (ES256), kid = RFC 7638 JWK thumbprint (SHA-256,
// base64url): stable for a key, never reused for another key. Index 0 of each list is the active
// (signing) key; all keys in both lists are published in the JWKS.

function thumbprint(jwk) {
  const members = jwk.kty === 'RSA'
    ? { e: jwk.e, kty: jwk.kty, n: jwk.n }
    : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return crypto.hash('sha256', JSON.stringify(members), 'base64url');
}

function newKey(alg) {
  const { privateKey } = alg === 'RS256'
    ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
    : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, use: 'sig', alg, kid: thumbprint(jwk) };
}

const keys = { RS256: [newKey('RS256')], ES256: [newKey('ES256')] };

function publicJwk({ kty, use, alg, kid, n, e, crv, x, y }) {
  return kty === 'RSA' ? { kty, use, alg, kid, n, e } : { kty, use, alg, kid, crv, x, y };
}

function keyState() {
  return {
    active: { RS256: keys.RS256[0].kid, ES256: keys.ES256[0].kid },
    published: [...keys.RS256, ...keys.ES256].map((k) => ({ kid: k.kid, alg: k.alg })),
  };
}

function writeKeyFiles() {
  const all = [...keys.RS256, ...keys.ES256];
  const write = (name, body, mode) => {
    const file = path.join(KEYS_DIR, name);
    fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(body, null, 2)}\n`, { mode });
    fs.renameSync(`${file}.tmp`, file);
  };
  write('jwks.json', { keys: all.map(publicJwk) }, 0o644);
  write('jwks-private.json', { keys: all }, 0o600);
}

// ---------------------------------------------------------------------------------------------
// Storage: one in-memory store shared by every Provider instance (a key rotation builds a new
// Provider; sessions, interactions, grants and codes survive it). Clients come from files.

const store = new Map(); // key -> { payload, expiresAt (ms) | undefined }
const nowMs = () => Date.now();

function storeGet(key) {
  const e = store.get(key);
  if (!e) return undefined;
  if (e.expiresAt !== undefined && e.expiresAt <= nowMs()) {
    store.delete(key);
    return undefined;
  }
  return e.payload;
}

function storeSet(key, payload, expiresIn) {
  store.set(key, {
    payload,
    expiresAt: typeof expiresIn === 'number' ? nowMs() + (expiresIn + 15) * 1000 : undefined,
  });
}

// Expired entries are also swept once a minute, so long demo runs do not grow without bound.
setInterval(() => {
  for (const [key, e] of store) {
    if (e.expiresAt !== undefined && e.expiresAt <= nowMs()) store.delete(key);
  }
}, 60_000).unref();

const grantable = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest']);

class MemoryAdapter {
  constructor(model) { this.model = model; }

  key(id) { return `${this.model}:${id}`; }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    if (this.model === 'Session') storeSet(`sessionUid:${payload.uid}`, id, expiresIn);
    if (grantable.has(this.model) && payload.grantId) {
      const gkey = `grant:${payload.grantId}`;
      const members = storeGet(gkey) ?? [];
      members.push(key);
      storeSet(gkey, members, expiresIn);
    }
    if (payload.userCode) storeSet(`userCode:${payload.userCode}`, id, expiresIn);
    storeSet(key, payload, expiresIn);
  }

  async find(id) { return storeGet(this.key(id)); }

  async findByUid(uid) {
    const id = storeGet(`sessionUid:${uid}`);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = storeGet(`userCode:${userCode}`);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const p = storeGet(this.key(id));
    if (p) p.consumed = Math.floor(nowMs() / 1000);
  }

  async destroy(id) { store.delete(this.key(id)); }

  async revokeByGrantId(grantId) {
    const gkey = `grant:${grantId}`;
    for (const key of storeGet(gkey) ?? []) store.delete(key);
    store.delete(gkey);
  }
}

// Client registrations: every *.json file in CLIENTS_DIR, read on every lookup (oidc-provider calls
// the Client adapter's find() each time it needs a client that is not in its static list; it caches
// the built Client object by a hash of the returned metadata, so an edited file takes effect at
// once). Later file names (byte order) win when two files name the same client_id.
const PEER_FIELDS = new Set(['comment']);

function readClients() {
  let names;
  try {
    names = fs.readdirSync(CLIENTS_DIR).filter((n) => n.endsWith('.json')).sort();
  } catch {
    return new Map();
  }
  const out = new Map();
  for (const name of names) {
    let doc;
    try {
      doc = JSON.parse(fs.readFileSync(path.join(CLIENTS_DIR, name), 'utf8'));
    } catch (err) {
      if (err.code !== 'ENOENT') log(`clients: skipping ${name}: ${err.message}`);
      continue;
    }
    if (!doc || typeof doc !== 'object' || typeof doc.client_id !== 'string' || !doc.client_id) {
      log(`clients: skipping ${name}: no client_id`);
      continue;
    }
    const meta = {};
    for (const [k, v] of Object.entries(doc)) {
      if (!PEER_FIELDS.has(k) && v !== null) meta[k] = v;
    }
    if (doc.client_secret === null || doc.client_secret === undefined) {
      delete meta.client_secret;
      meta.token_endpoint_auth_method ??= 'none';
    }
    out.set(doc.client_id, meta);
  }
  return out;
}

class ClientFileAdapter {
  async find(id) { return readClients().get(id); }

  async upsert() { throw new Error('clients are registered by writing files'); }

  async destroy() {}
}

function adapterFor(model) {
  return model === 'Client' ? new ClientFileAdapter() : new MemoryAdapter(model);
}

// ---------------------------------------------------------------------------------------------
// HTML

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:sans-serif;max-width:28em;margin:3em auto}label,input,button{display:block;margin:.4em 0}.error{color:#b00020}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

function loginPage(uid, clientId, username, error) {
  const err = error ? `<p class="error" id="error">${esc(error)}</p>\n` : '';
  return page('Sign in', `<h1>Sign in</h1>
<p>Roleport demo OpenID provider. Client: <code id="client_id">${esc(clientId)}</code></p>
${err}<form method="post" action="/interaction/${esc(uid)}/login" id="login">
<label for="username">Username</label>
<input type="text" id="username" name="username" value="${esc(username)}" autocomplete="username" autofocus required>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit" id="submit">Sign in</button>
</form>`);
}

function errorPage(error, description) {
  return page('Error', `<h1>Error</h1>
<p class="error" id="error">${esc(error)}</p>
<p id="error_description">${esc(description ?? '')}</p>`);
}

// ---------------------------------------------------------------------------------------------
// The Provider (rebuilt with the same settings and store whenever the keys change)

const COOKIE_KEYS = [crypto.randomBytes(32).toString('base64url')];
const SCOPES = ['openid', 'email', 'profile', 'groups'];
const AT_VALUE = Symbol('access token value');

function buildProvider() {
  const provider = new Provider(ISSUER, {
    adapter: adapterFor,
    clients: [],
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    jwks: { keys: [...keys.RS256, ...keys.ES256] },
    cookies: { keys: COOKIE_KEYS },
    scopes: SCOPES,
    claims: {
      acr: null,
      auth_time: null,
      iss: null,
      sid: null,
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
      groups: ['groups', 'groups_dn', 'realm_access'],
    },
    // Scope-based claims go into the ID token too, not only to userinfo.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    responseTypes: ['code'],
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      // Keep the moving parts few: no resource indicators (opaque access tokens for userinfo),
      // no PAR, no DPoP.
      resourceIndicators: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      dPoP: { enabled: false },
    },
    interactions: { url: async (ctx, interaction) => `${ISSUER}/interaction/${interaction.uid}` },
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      Grant: 14 * 24 * 3600,
      IdToken: 3600,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
    },
    async findAccount(ctx, sub) {
      if (!USERS.has(sub)) return undefined;
      return { accountId: sub, claims: async () => accountClaims(sub) };
    },
    issueRefreshToken: async () => false,
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = errorPage(out.error, out.error_description);
    },
  });

  // oidc-provider puts at_hash into ID tokens only on the authorization endpoint (implicit and
  // hybrid flows). Add it to the token endpoint's ID token as well, for the access token issued
  // alongside, so relying parties can test their at_hash check (OIDC Core 3.1.3.8 allows both).
  const { AccessToken, IdToken } = provider;
  const atSave = AccessToken.prototype.save;
  AccessToken.prototype.save = async function save(...args) {
    const value = await atSave.apply(this, args);
    this[AT_VALUE] = value;
    return value;
  };
  const idIssue = IdToken.prototype.issue;
  IdToken.prototype.issue = async function issue(opts) {
    const at = this.ctx?.oidc?.entities?.AccessToken;
    if (opts?.use === 'idtoken' && this.ctx?.oidc?.route === 'token' && at?.[AT_VALUE]
        && !('at_hash' in this.extra)) {
      this.set('at_hash', at[AT_VALUE]);
    }
    return idIssue.call(this, opts);
  };

  provider.on('server_error', (ctx, err) => log('server_error', ctx.method, ctx.path, err.stack ?? err));
  for (const event of ['authorization.error', 'grant.error', 'userinfo.error']) {
    provider.on(event, (ctx, err) => {
      log(event, err.error, JSON.stringify(err.error_description ?? ''), err.error_detail ?? '');
    });
  }
  return provider;
}

let provider = buildProvider();
let providerHandler = provider.callback();

function rebuildProvider() {
  provider = buildProvider();
  providerHandler = provider.callback();
  writeKeyFiles();
}

// ---------------------------------------------------------------------------------------------
// Interactions (login with a real password check; consent is granted automatically)

async function readForm(req, limit = 64 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw Object.assign(new Error('request body too large'), { status: 413 });
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}

function sendJson(res, status, body) {
  send(res, status, `${JSON.stringify(body, null, 2)}\n`, { 'content-type': 'application/json' });
}

// A new grant for ACCOUNT and the interaction's client, holding every scope the request asked
// for that this provider knows (openid email profile groups) and any claims it asked for.
async function grantFor(details, accountId) {
  const { params, prompt } = details;
  let grant;
  if (details.grantId) grant = await provider.Grant.find(details.grantId);
  if (!grant || grant.accountId !== accountId) {
    grant = new provider.Grant({ accountId, clientId: params.client_id });
  }
  const requested = String(params.scope ?? '').split(' ').filter((s) => SCOPES.includes(s));
  if (requested.length) grant.addOIDCScope(requested.join(' '));
  const d = prompt?.details ?? {};
  if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
  if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
  if (d.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  return grant.save();
}

async function interactionDetails(req, res, uid) {
  try {
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) return undefined;
    return details;
  } catch {
    return undefined;
  }
}

async function handleInteraction(req, res, uid, action) {
  const details = await interactionDetails(req, res, uid);
  if (!details) {
    send(res, 400, errorPage('invalid_request', 'interaction not found, expired or not for this browser (cookie _interaction missing)'));
    return;
  }
  const { prompt, params } = details;

  if (req.method === 'GET' && action === '') {
    if (prompt.name === 'login') {
      send(res, 200, loginPage(uid, params.client_id, params.login_hint ?? '', null));
      return;
    }
    if (prompt.name === 'consent') {
      const grantId = await grantFor(details, details.session.accountId);
      log(`consent: ${details.session.accountId} -> ${params.client_id} (automatic)`);
      await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      return;
    }
    send(res, 400, errorPage('invalid_request', `unexpected prompt ${prompt.name}`));
    return;
  }

  if (req.method === 'POST' && action === '/login') {
    if (prompt.name !== 'login') {
      send(res, 400, errorPage('invalid_request', `not a login interaction (${prompt.name})`));
      return;
    }
    const form = await readForm(req);
    const username = form.get('username') ?? '';
    const password = form.get('password') ?? '';
    if (!checkPassword(username, password)) {
      log(`login: failed for ${JSON.stringify(username)} (client ${params.client_id})`);
      send(res, 200, loginPage(uid, params.client_id, username, 'Invalid username or password.'));
      return;
    }
    // Login and consent in one step: the grant covers the requested scopes, so the provider needs
    // no further interaction and answers the resume with the redirect to the client.
    const grantId = await grantFor(details, username);
    log(`login: ${username} -> ${params.client_id}`);
    await provider.interactionFinished(req, res, {
      login: { accountId: username },
      consent: { grantId },
    }, { mergeWithLastSubmission: false });
    return;
  }

  if (req.method === 'GET' && action === '/abort') {
    await provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
    return;
  }

  send(res, 405, errorPage('invalid_request', 'method not allowed'), { allow: 'GET, POST' });
}

// ---------------------------------------------------------------------------------------------
// Test endpoints (ALLOW_TEST_ENDPOINTS=1)

function wantedAlgs(url) {
  const alg = url.searchParams.get('alg');
  if (!alg || alg === 'all') return ['RS256', 'ES256'];
  if (alg === 'RS256' || alg === 'ES256') return [alg];
  return null;
}

async function handleTest(req, res, url) {
  const route = url.pathname;
  if (req.method === 'GET' && route === '/__test/keys') {
    sendJson(res, 200, keyState());
    return;
  }
  if (req.method === 'POST' && (route === '/__test/rotate' || route === '/__test/retire')) {
    const algs = wantedAlgs(url);
    if (!algs) {
      sendJson(res, 400, { error: 'alg must be RS256, ES256 or all' });
      return;
    }
    const retire = route === '/__test/retire' || url.searchParams.get('retire') === '1';
    for (const alg of algs) {
      if (route === '/__test/rotate') keys[alg].unshift(newKey(alg));
      if (retire) keys[alg].length = 1;
    }
    rebuildProvider();
    const state = keyState();
    log(`keys: ${route.slice(8)} ${algs.join(',')}${retire ? ' (old keys retired)' : ''}: active ${JSON.stringify(state.active)}`);
    sendJson(res, 200, state);
    return;
  }
  sendJson(res, 404, { error: 'not found' });
}

// ---------------------------------------------------------------------------------------------
// HTTP server

const INTERACTION = /^\/interaction\/([A-Za-z0-9_-]{1,64})(\/login|\/abort)?$/;

const server = http.createServer(async (req, res) => {
  const started = nowMs();
  res.on('finish', () => {
    log(`${req.method} ${req.url.split('?')[0]} ${res.statusCode} ${nowMs() - started}ms`);
  });
  try {
    const url = new URL(req.url, ISSUER);
    const m = INTERACTION.exec(url.pathname);
    if (m) {
      await handleInteraction(req, res, m[1], m[2] ?? '');
      return;
    }
    if (url.pathname.startsWith('/__test/')) {
      if (!TEST_ENDPOINTS) {
        send(res, 404, errorPage('not_found', 'test endpoints are off (ALLOW_TEST_ENDPOINTS=1)'));
        return;
      }
      await handleTest(req, res, url);
      return;
    }
    providerHandler(req, res);
  } catch (err) {
    log('error', req.method, req.url, err.stack ?? err);
    if (!res.headersSent) send(res, err.status ?? 500, errorPage('server_error', err.message));
    else res.destroy();
  }
});

writeKeyFiles();
server.listen(PORT, '127.0.0.1', () => {
  log(`listening on http://127.0.0.1:${PORT}/, issuer ${ISSUER}, clients from ${CLIENTS_DIR}`
    + `${TEST_ENDPOINTS ? ', test endpoints on' : ''}; keys ${JSON.stringify(keyState().active)}`);
});
server.on('error', (err) => {
  console.error(`oidc-peer: ${err.message}`);
  process.exit(1);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  });
}
