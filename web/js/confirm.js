// confirm.js — e-mail address confirmation (/confirm#token=…), where the link in the
// confirmation mail leads. The token is in the fragment, so it never reaches a server
// log or a Referer; the page takes it out of the address bar at once, sends it (POST
// /api/v1/email-confirmations, no session needed) and says what came of it: the
// address is confirmed, the link has expired (410) or is not valid (404). Opened
// without a token, it says what it is for.

import { api } from './api.js';
import { el } from './dom.js';
import { initPage } from './header.js';
import { onLangChange, t } from './i18n.js';

const box = document.getElementById('confirm-result');
let result = null; // {kind: 'done', email} | {kind: 'expired' | 'invalid' | 'none'} | {kind: 'error', message}
let user = null; // who is signed in here, if anyone

// The token from "#token=…", then the address without it (history keeps no copy).
function takeToken() {
  const token = new URLSearchParams(location.hash.replace(/^#/, '')).get('token') || '';
  if (location.hash) {
    history.replaceState(history.state, '', location.pathname + location.search);
  }
  return token.trim();
}

// A sentence of the key with {link} made a link to /me ("My applications").
function withLink(key, vars) {
  const [before, after = ''] = t(key, vars).split('{link}');
  return [before, el('a', { href: '/me', text: t('confirm.link') }), after];
}

function fill(node, parts) {
  const text = parts.map((p) => (typeof p === 'string' ? p : p.textContent)).join('');
  if (node.textContent === text) return; // a live region speaks on change only
  node.replaceChildren(...parts);
}

function render() {
  if (!result) return;
  box.removeAttribute('aria-busy');
  document.getElementById('confirm-loading').hidden = true;
  const done = document.getElementById('confirm-done');
  const error = document.getElementById('confirm-error');
  const more = document.getElementById('confirm-more');
  let ok = [];
  let bad = [];
  let next = [];
  switch (result.kind) {
    case 'done':
      ok = [t('confirm.done', { email: result.email })];
      next = [el('p', {}, el('a', { class: 'button', href: '/me', text: t('confirm.to_me') }))];
      break;
    case 'expired':
      bad = withLink('confirm.expired');
      break;
    case 'invalid':
      bad = withLink('confirm.invalid');
      break;
    case 'none': {
      // what the page is for, and the way to a mail for whoever is signed in here
      const u = user || {};
      next = [el('p', { text: t('confirm.none') }), el('p', {}, ...(u.email_confirmed
        ? withLink('confirm.none_confirmed', { email: u.email })
        : withLink(user ? 'confirm.none_signed_in' : 'confirm.none_next')))];
      break;
    }
    default:
      bad = [result.message];
      break;
  }
  fill(done, ok);
  fill(error, bad);
  more.replaceChildren(...next);
}

async function confirm(token) {
  if (!token) return { kind: 'none' };
  try {
    const r = await api('/email-confirmations', { method: 'POST', body: { token } });
    return { kind: 'done', email: (r && r.email) || '' };
  } catch (x) {
    if (x.status === 410 || x.code === 'expired') return { kind: 'expired' };
    if (x.status === 404 || x.code === 'not_found') return { kind: 'invalid' };
    return { kind: 'error', message: x.message };
  }
}

// The outcome for a token ("" when the address has none), the page busy meanwhile.
async function run(token) {
  result = null;
  box.setAttribute('aria-busy', 'true');
  document.getElementById('confirm-loading').hidden = false;
  for (const id of ['confirm-done', 'confirm-error', 'confirm-more']) {
    document.getElementById(id).replaceChildren();
  }
  result = await confirm(token);
  render();
}

const token = takeToken();
// after the session is known, so a signed-in browser's write carries its CSRF token
user = ((await initPage()) || {}).user || null;
await run(token);
onLangChange(render);
// a link pasted into this page's address bar changes the fragment only
window.addEventListener('hashchange', () => {
  const next = takeToken();
  if (next) run(next);
});
