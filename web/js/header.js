// header.js — what every page shares: the header's sign-in links and interface
// language switch, and the student's home university (remembered in this browser)
// with the recognition hint it drives. Each page calls initPage() first.

import { institutions, probablySignedIn, session, signOut } from './api.js';
import {
  UI_LANGS, UI_LANG_NAMES, applyStatic, lang, onLangChange, pickText, setLang, t,
} from './i18n.js';

const HOME_KEY = 'mcx.home';

// Translates the static text, fills the language switch and, once the session is
// known, the header's account links. Resolves to the session (or null).
export async function initPage() {
  applyStatic(document);
  const select = document.getElementById('ui-lang');
  if (select) {
    select.replaceChildren(...UI_LANGS.map((l) => {
      const o = new Option(UI_LANG_NAMES[l], l, false, l === lang());
      o.lang = l;
      return o;
    }));
    select.addEventListener('change', () => setLang(select.value));
  }
  const guess = probablySignedIn();
  renderAccount(guess);
  const s = await session();
  // the guess knows only "signed in": staff links need the role, so draw again for them
  if (Boolean(s) !== guess || staffLinks(s).length) renderAccount(s);
  onLangChange(() => renderAccount(s));
  return s;
}

function renderAccount(signedIn) {
  const list = document.getElementById('nav-list');
  if (!list) return;
  for (const old of list.querySelectorAll('[data-account]')) old.remove();
  const items = [];
  if (signedIn) {
    for (const [href, key] of staffLinks(signedIn)) items.push(navLink(href, t(key)));
    items.push(navLink('/me', t('nav.me')));
    const li = document.createElement('li');
    const btn = document.createElement('button');
    btn.type = 'button';
    btn.className = 'linkish';
    btn.textContent = t('nav.logout');
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      try {
        await signOut();
      } catch { /* the session may already be gone: leave the page either way */ }
      location.assign(location.pathname === '/me' ? '/' : location.href);
    });
    li.append(btn);
    items.push(li);
  } else {
    // Come back here after logging in, except from the account pages themselves.
    const here = location.pathname + location.search;
    const next = ['/login', '/signup'].includes(location.pathname)
      ? location.search : `?next=${encodeURIComponent(here)}`;
    items.push(navLink(`/login${next}`, t('nav.login')));
    items.push(navLink(`/signup${next}`, t('nav.signup'), 'button-link'));
  }
  for (const li of items) li.dataset.account = '';
  list.append(...items);
}

// signedIn is a boolean (the guess) or the session: only the session knows the role.
export function isRegistrar(s) {
  return hasRole(s, 'registrar');
}

export function hasRole(s, ...roles) {
  return Boolean(s && s.user && roles.includes(s.user.role));
}

// The staff pages a role may use, in header order: [href, i18n key]. The server
// decides what each may do; these are only the doors.
const STAFF_PAGES = [
  ['/publish', 'nav.publish', ['publisher', 'admin']],
  ['/queue', 'nav.queue', ['registrar']],
  ['/admin', 'nav.admin', ['admin']],
];

export function staffLinks(s) {
  return STAFF_PAGES.filter(([, , roles]) => hasRole(s, ...roles)).map(([h, k]) => [h, k]);
}

function navLink(href, text, cls) {
  const li = document.createElement('li');
  const a = document.createElement('a');
  a.href = href;
  a.textContent = text;
  if (cls) a.className = cls;
  if (location.pathname === href.split('?')[0]) a.setAttribute('aria-current', 'page');
  li.append(a);
  return li;
}

// ---- staff pages --------------------------------------------------------------

// A staff page's answer to a visitor it is not for: the page (#app) and its loading
// line (#<prefix>-loading) give way to #gate. Signed out: a link to log in and come
// back here; signed in with another role: whom the page is for and a way on (away).
// The texts are <prefix>.login, .login_text, .forbidden and .forbidden_text.
export function showStaffGate(prefix, signedIn, away = { href: '/me', key: 'nav.me' }) {
  for (const id of ['app', `${prefix}-loading`]) {
    const node = document.getElementById(id);
    if (node) node.hidden = true;
  }
  document.getElementById('gate').hidden = false;
  document.getElementById('gate-heading').textContent = t(`${prefix}.${signedIn ? 'forbidden' : 'login'}`);
  document.getElementById('gate-text').textContent =
    t(`${prefix}.${signedIn ? 'forbidden_text' : 'login_text'}`);
  const a = document.createElement('a');
  if (signedIn) {
    a.href = away.href;
    a.textContent = t(away.key);
  } else {
    a.className = 'button';
    a.href = `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
    a.textContent = t(`${prefix}.login`);
  }
  document.getElementById('gate-action').replaceChildren(a);
}

// ---- home university -----------------------------------------------------------

export function homeId() {
  try { return localStorage.getItem(HOME_KEY) || ''; } catch { return ''; }
}

function storeHome(id) {
  try {
    if (id) localStorage.setItem(HOME_KEY, id);
    else localStorage.removeItem(HOME_KEY);
  } catch { /* not remembered */ }
}

export function institutionName(inst, fallback) {
  if (!inst) return fallback || '';
  return pickText(inst.names) || inst.name || inst.id;
}

// The provider's name for an offer: the institution's name in the interface
// language, else the name the offer's own document gives in it, else any.
export function providerName(offer, insts) {
  const inst = (offer && offer.institution) || {};
  const known = insts.get(inst.id);
  const ui = lang();
  if (known && known.names && known.names[ui]) return known.names[ui];
  const fromDoc = offer && offer.provider && offer.provider.name;
  if (fromDoc && fromDoc[ui]) return fromDoc[ui];
  return institutionName(known, inst.name || pickText(fromDoc) || inst.id);
}

// Fills <select id="home-institution"> from the institutions, selects the stored
// choice (else the signed-in student's own institution) and calls onChange(id)
// whenever it changes. Names follow the interface language.
export async function initHomeSelect(select, onChange, user) {
  const insts = await institutions();
  if (!homeId() && user && user.institution && insts.has(user.institution)) {
    storeHome(user.institution);
  }
  const fill = () => {
    const current = homeId();
    const sorted = [...insts.values()].sort((a, b) =>
      institutionName(a).localeCompare(institutionName(b), lang()));
    select.replaceChildren(
      new Option(t('home.none'), ''),
      ...sorted.map((i) => new Option(institutionName(i), i.id, false, i.id === current)),
    );
    if (current && !insts.has(current)) select.value = '';
  };
  fill();
  onLangChange(fill);
  select.addEventListener('change', () => {
    storeHome(select.value);
    onChange(select.value);
  });
  return insts;
}

// The recognition hint for one offer at the chosen home university. The offer's
// `recognition` ({institution, credits|ects, …}) is filled by the node once
// recognition agreements exist; until then every offer says none is known.
export function recognitionText(offer, insts) {
  const home = homeId();
  if (!home || !insts.has(home)) return { text: t('rec.choose'), known: false };
  const name = institutionName(insts.get(home), home);
  const r = offer && offer.recognition;
  if (r && typeof r === 'object' && (!r.institution || r.institution === home)) {
    const n = r.credits ?? r.ects;
    if (typeof n === 'number') return { text: t('rec.yes', { home: name, n }), known: true };
  }
  return { text: t('rec.none', { home: name }), known: false };
}

export function renderRecognition(el, offer, insts) {
  const r = recognitionText(offer, insts);
  el.textContent = r.text;
  el.classList.toggle('is-recognised', r.known);
}

