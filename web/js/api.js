// api.js — the pages' only way to mcxd's JSON API (docs/openapi.yaml): one fetch
// wrapper that turns error replies into ApiError, the session (who is signed in and
// the CSRF token every cookie-signed write must send), and the institutions list.

import { t } from './i18n.js';

export class ApiError extends Error {
  constructor(status, body) {
    const err = body && body.error ? body.error : {};
    super(err.message || (status === 0 ? t('error.network') : t('error.generic')));
    this.status = status;
    this.code = err.code || (status === 0 ? 'network' : 'unknown');
    this.details = Array.isArray(err.details) ? err.details : [];
  }
}

let csrfToken = null;

// GET/POST/PUT/DELETE a path under /api/v1. Resolves to the parsed body (null for
// 204), rejects with ApiError. Writes carry X-CSRF-Token when a session gave one.
// A JSON body is an object; with `contentType` the body is sent as it is (a LOQ
// file, a Moodle CSV). `accept` other than JSON resolves to the reply's text.
export async function api(path, {
  method = 'GET', body, signal, contentType, accept = 'application/json',
} = {}) {
  const headers = { Accept: accept };
  const raw = contentType !== undefined;
  if (body !== undefined) headers['Content-Type'] = raw ? contentType : 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let res;
  try {
    res = await fetch(`/api/v1${path}`, {
      method, headers, signal, credentials: 'same-origin',
      body: body === undefined ? undefined : (raw ? body : JSON.stringify(body)),
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, null);
  }
  const json = (res.headers.get('Content-Type') || '').startsWith('application/json');
  let data = null;
  if (res.status !== 204) {
    try { data = json || accept === 'application/json' ? await res.json() : await res.text(); } catch { data = null; }
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

let sessionPromise = null;

// Whether this browser was signed in when a page last asked: lets the header draw
// the right links before the session answer comes (no jump when it does).
function remember(signedIn) {
  try {
    if (signedIn) localStorage.setItem('mcx.auth', '1');
    else localStorage.removeItem('mcx.auth');
  } catch { /* not remembered */ }
}

export function probablySignedIn() {
  try { return localStorage.getItem('mcx.auth') === '1'; } catch { return false; }
}

// The signed-in session ({user, csrf_token, …}) or null; asked once per page.
export function session() {
  if (!sessionPromise) {
    sessionPromise = api('/session').then(
      (s) => { csrfToken = s.csrf_token; remember(true); return s; },
      (e) => { if (e.status === 401) remember(false); return null; },
    );
  }
  return sessionPromise;
}

export async function signIn(email, password) {
  const s = await api('/session', { method: 'POST', body: { email, password } });
  csrfToken = s.csrf_token;
  sessionPromise = Promise.resolve(s);
  remember(true);
  return s;
}

export async function signOut() {
  await session();
  await api('/session', { method: 'DELETE' });
  csrfToken = null;
  sessionPromise = Promise.resolve(null);
  remember(false);
}

let institutionsPromise = null;

// Every institution the node knows, as a Map id → institution; empty on failure
// (the pages then show ids instead of names).
export function institutions() {
  if (!institutionsPromise) {
    institutionsPromise = api('/institutions')
      .then((r) => new Map(r.items.map((i) => [i.id, i])))
      .catch(() => new Map());
  }
  return institutionsPromise;
}

// Only a same-origin path (one leading slash, no scheme or host) may be a `next`.
export function safeNext(value, fallback) {
  if (typeof value === 'string' && /^\/(?![/\\])/.test(value) && !/[\u0000-\u001f]/.test(value)) {
    return value;
  }
  return fallback;
}
