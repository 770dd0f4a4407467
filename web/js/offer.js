// offer.js — one course (/offers/{id}): everything a student needs to decide, laid
// out for reading, the recognition hint for their home university, and "Apply",
// which records the application (once per student and offer) and sends the
// student on to the provider.

import { ApiError, api, institutions } from './api.js';
import {
  homeId, initHomeSelect, initPage, institutionName, providerName, renderRecognition,
} from './header.js';
import {
  countryName, formatDate, formatNumber, formatPrice, iscedName, lang, languageName,
  modeName, onLangChange, pick, t,
} from './i18n.js';

const REDIRECT_DELAY_MS = 800; // long enough to read "Application recorded"

const box = document.getElementById('offer');
const back = document.getElementById('back');
const id = decodeURIComponent(location.pathname.replace(/^\/offers\//, '').replace(/\/$/, ''));

let offer = null;
let insts = new Map();
let user = null;
let applyState = { status: '', error: '' };

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k in node && typeof v !== 'string') node[k] = v;
    else node.setAttribute(k, v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== ''));
  return node;
}

// A language map as text, with `lang` set when it is not the interface language.
function textEl(tag, map, props = {}) {
  const { text, lang: l } = pick(map);
  if (!text) return null;
  return el(tag, { ...props, text, lang: l && l !== lang() ? l : undefined });
}

// ---- "Back to results" -------------------------------------------------------------

function fromOurCatalogue() {
  if (!document.referrer) return false;
  try {
    const ref = new URL(document.referrer);
    return ref.origin === location.origin && ref.pathname === '/';
  } catch {
    return false;
  }
}

function initBack() {
  let saved = '/';
  try { saved = sessionStorage.getItem('mcx.search') || '/'; } catch { /* ok */ }
  back.href = /^\/(\?|$)/.test(saved) ? saved : '/';
  back.addEventListener('click', (e) => {
    if (fromOurCatalogue() && history.length > 1) {
      e.preventDefault();
      history.back();
    }
  });
}

// ---- facts -------------------------------------------------------------------------

function hours(duration) {
  const m = /^PT(\d+(?:\.\d+)?)H$/.exec(duration || '');
  return m ? t('offer.hours', { n: formatNumber(Number(m[1])) }) : duration || '';
}

function dateRange(o) {
  if (o.starts && o.ends) return `${formatDate(o.starts)} – ${formatDate(o.ends)}`;
  if (o.starts) return formatDate(o.starts);
  if (o.ends) return `– ${formatDate(o.ends)}`;
  return '';
}

function facts(o) {
  const inst = o.institution || {};
  const rows = [
    ['offer.provider', providerName(o, insts)],
    ['offer.country', countryName(inst.country || o.provider?.country)],
    ['offer.dates', dateRange(o)],
    ['offer.deadline', formatDate(o.application_deadline)],
    ['offer.mode', modeName(o.mode)],
    ['offer.language', (o.languages || []).map(languageName).join(', ')],
    ['offer.ects', typeof o.ects === 'number' ? formatNumber(o.ects) : ''],
    ['offer.eqf', o.eqf ? String(o.eqf) : ''],
    ['offer.field', (o.isced || []).map((c) => `${iscedName(c)} (${c})`)],
    ['offer.price', formatPrice(o.price)],
  ];
  if (o.volume_of_learning) rows.push(['offer.workload', hours(o.volume_of_learning)]);
  const dl = el('dl', { class: 'facts-grid' });
  for (const [key, value] of rows) {
    const empty = Array.isArray(value) ? !value.length : !value;
    const dd = empty ? el('dd', { class: 'not-stated', text: t('not_stated') })
      : Array.isArray(value) ? el('dd', {}, ...value.map((v) => el('span', { class: 'line', text: v })))
        : el('dd', { text: value });
    dl.append(el('div', {}, el('dt', { text: t(key) }), dd));
  }
  return dl;
}

// ---- sections ------------------------------------------------------------------------

function section(titleKey, content) {
  if (!content) return null;
  return el('section', {}, el('h2', { text: t(titleKey) }), content);
}

function outcomes(list) {
  const items = (list || []).map((m) => textEl('li', m)).filter(Boolean);
  return items.length ? el('ul', {}, ...items) : null;
}

function links(o) {
  const inst = insts.get(o.institution?.id);
  const providerHome = inst?.homepage || o.provider?.homepage;
  const items = [];
  if (o.homepage) items.push(el('li', {}, el('a', { href: o.homepage, text: t('offer.homepage'), rel: 'noopener' })));
  if (providerHome && providerHome !== o.homepage) {
    items.push(el('li', {}, el('a', { href: providerHome, text: t('offer.provider_homepage'), rel: 'noopener' })));
  }
  return items.length ? el('ul', { class: 'links' }, ...items) : null;
}

function logo(o) {
  const inst = insts.get(o.institution?.id);
  if (inst?.logo_url && /^https?:\/\/|^\//.test(inst.logo_url)) {
    return el('img', { class: 'logo', src: inst.logo_url, alt: '', width: '44', height: '44' });
  }
  const name = institutionName(inst, o.institution?.name || '');
  const initials = name.split(/\s+/).filter((w) => /^\p{Lu}/u.test(w)).map((w) => w[0]).join('').slice(0, 3);
  return el('span', { class: 'logo', 'aria-hidden': 'true', text: initials || '•' });
}

// ---- apply ---------------------------------------------------------------------------

function applyPanel(o) {
  const more = links(o);
  const button = el('button', { type: 'button', id: 'apply', class: 'primary', text: t('offer.apply') });
  const hint = el('p', { class: 'apply-hint', text: t(user ? 'offer.apply_hint' : 'offer.apply_login') });
  const status = el('p', { role: 'status', class: 'status', id: 'apply-status', text: applyState.status });
  const alert = el('div', { role: 'alert', class: 'alert', id: 'apply-error', text: applyState.error });
  button.addEventListener('click', () => apply(o, button, status, alert));
  return el('div', { class: 'panel apply-panel' }, button, hint, status, alert, more);
}

async function apply(o, button, status, alert) {
  if (!user) {
    location.assign(`/login?next=${encodeURIComponent(`/offers/${o.id}`)}`);
    return;
  }
  button.disabled = true;
  alert.textContent = applyState.error = '';
  status.textContent = t('offer.applying');
  try {
    const r = await api(`/offers/${encodeURIComponent(o.id)}/applications`, { method: 'POST' });
    const go = typeof r.redirect === 'string' && /^https?:\/\//.test(r.redirect);
    applyState.status = `${t('offer.applied')}. ${t(go ? 'offer.applied_go' : 'offer.applied_stay')}`;
    status.textContent = applyState.status;
    if (go) setTimeout(() => location.assign(r.redirect), REDIRECT_DELAY_MS);
    else button.disabled = false;
  } catch (err) {
    status.textContent = applyState.status = '';
    if (err instanceof ApiError && err.status === 401) {
      location.assign(`/login?next=${encodeURIComponent(`/offers/${o.id}`)}`);
      return;
    }
    alert.textContent = applyState.error = err.message;
    button.disabled = false;
  }
}

// ---- page ------------------------------------------------------------------------------

// One select for the page's life: it keeps its listeners across re-renders.
const homeSelect = el('select', { id: 'home-institution' });
let recEl = null;

function recognitionPanel(o) {
  recEl = el('p', { class: 'recognition' });
  renderRecognition(recEl, o, insts);
  return el('div', { class: 'panel' },
    el('h2', { text: t('offer.recognition') }),
    el('div', { class: 'home-field' }, el('label', { for: 'home-institution', text: t('home.label') }), homeSelect),
    recEl);
}

function render() {
  const o = offer;
  const title = pick(o.title);
  document.title = `${title.text || o.external_id} — mcx`;
  const inst = o.institution || {};
  const head = el('div', { class: 'offer-head' },
    el('h1', { text: title.text || o.external_id, lang: title.lang && title.lang !== lang() ? title.lang : undefined }),
    el('p', { class: 'provider-line' }, logo(o),
      el('span', { text: [providerName(o, insts), countryName(inst.country)].filter(Boolean).join(' · ') })));
  const body = el('div', { class: 'offer-body' },
    el('section', { class: 'panel facts-panel', 'aria-labelledby': 'facts-title' },
      el('h2', { id: 'facts-title', class: 'visually-hidden', text: t('offer.facts') }), facts(o)),
    section('offer.outcomes', outcomes(o.learning_outcomes)),
    section('offer.description', textEl('p', o.description)),
    section('offer.assessment', textEl('p', o.assessment)),
    section('offer.qa', textEl('p', o.quality_assurance)),
    section('offer.prerequisites', textEl('p', o.entry_requirements)));
  const side = el('div', { class: 'offer-side' }, applyPanel(o), recognitionPanel(o));
  box.classList.remove('loading-block');
  box.setAttribute('aria-busy', 'false');
  box.replaceChildren(head, el('div', { class: 'offer-grid' }, body, side));
}

function renderNotFound(message) {
  document.title = `${t('offer.not_found')} — mcx`;
  box.classList.remove('loading-block');
  box.setAttribute('aria-busy', 'false');
  box.replaceChildren(el('div', { class: 'panel state-box' },
    el('h1', { text: message ? t('error.generic') : t('offer.not_found') }),
    el('p', { class: 'muted', text: message || t('offer.not_found_text') }),
    el('a', { class: 'button', href: '/', text: t('offer.browse') })));
}

let loadError = '';

async function load() {
  try {
    const home = homeId();
    offer = await api(`/offers/${encodeURIComponent(id)}${home ? `?home=${encodeURIComponent(home)}` : ''}`);
  } catch (err) {
    offer = null;
    loadError = err.status === 404 ? '' : err.message;
  }
}

// The offer, the session (the apply button depends on it) and the institutions
// (names, homepages, logos) load side by side; the page renders once all are in.
initBack();
const sessionReady = initPage();
const instsReady = institutions();
await load();
insts = await instsReady;
user = (await sessionReady)?.user || null;
if (offer) {
  // another home university: the offer is read again, with what it gives there
  await initHomeSelect(homeSelect, async () => {
    await load();
    if (offer) renderRecognition(recEl, offer, insts);
  }, user);
  render();
} else {
  renderNotFound(loadError);
}
onLangChange(() => (offer ? render() : renderNotFound(loadError)));
