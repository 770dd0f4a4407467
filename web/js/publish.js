// publish.js — the publisher's dashboard (/publish, issue 11). A publisher works for
// their own institution; an admin picks one (?institution=). Sections, one at a time,
// chosen by the address's #hash:
//   #offers    the institution's offers (GET /api/v1/institutions/{id}/offers) with
//              the credential's completeness and a "Fix" link to the template;
//   #template  the credential template of ?offer= (GET/PUT
//              /api/v1/offers/{id}/credential-template), next to what the offer says;
//              with ?offer=default the institution's default template, which every
//              offer without its own inherits (GET/PUT/DELETE
//              /api/v1/institutions/{id}/credential-template): the same form, without
//              the offer's values and the completeness check;
//   #upload    a LOQ "Courses" file (POST …/institutions/{id}/catalogue?mode=) and its
//              per-offer report;
//   #issue     a Moodle gradebook export: dry run, then the import, then a progress
//              bar while the batch's credentials are sent (GET /credentials?batch=);
//   #registry  the credentials (filters in the address, CSV export, revoke with a
//              reason, a link to each one's public /verify page).
// The server decides what each account may do; the page reacts to its 401/403 too.
// docs/issuing.md and docs/publishing.md hold the rules.

import { api, institutions } from './api.js';
import { byId as $, el } from './dom.js';
import { hasRole, initPage, institutionName, showStaffGate } from './header.js';
import {
  formatDate, formatDateTime, formatNumber, lang, languageName, onLangChange, pick, pickText, plural, t,
} from './i18n.js';

const SECTIONS = ['offers', 'template', 'upload', 'issue', 'registry'];
const MISSING = ['title', 'awarding_body', 'country', 'learning_outcomes', 'ects', 'eqf',
  'assessment', 'mode', 'quality_assurance'];
// what only the offer's own document can hold: fixed by publishing it again
const OFFER_ONLY = ['mode'];
const STATES = ['queued', 'sending', 'delivered', 'failed', 'revoked'];
const POLL_MS = 500;
// ?offer= of the institution's default template (offer ids are UUIDs)
const DEFAULT = 'default';

let user = null;
let admin = false;
let inst = ''; // the institution worked for
let insts = new Map();
let offers = null; // the offers list's items
let offersById = new Map();
let defaultAnswer = null; // GET /institutions/{id}/credential-template; null: not known

// the template editor
let tplOfferId = null; // whose template the form shows (DEFAULT: the institution's default)
let tplOffer = null; // that offer (GET /offers/{id}), for "what the offer says"
let tplAnswer = null; // the last GET/PUT answer
let tplLangs = ['en'];

// issuing
let preview = null; // {offerId, passMark, file, report}
let imported = null; // the real import's report
let batch = null; // {id, answer, timer, started}

// the registry
let registry = null;
let revoking = null; // {credential, button}

// A language map's text in the interface language, marked with its own language.
function textNode(map, fallback = '') {
  const p = pick(map);
  if (!p.text) return document.createTextNode(fallback);
  return p.lang && p.lang !== lang() ? el('span', { lang: p.lang, text: p.text })
    : document.createTextNode(p.text);
}

function offerTitle(o) {
  return (o && pickText(o.title)) || (o && o.external_id) || '';
}

function missingWords(list) {
  return list.map((m) => t(`pub.missing.${m}`)).join(', ');
}

function isDefault() { return tplOfferId === DEFAULT; }

function defaultPath() {
  return `/institutions/${encodeURIComponent(inst)}/credential-template`;
}

// How many offers use the default now (the offers list says so).
function inheritingCount() {
  return (offers || []).filter((o) => o.template === 'inherited').length;
}

// ---- the address -----------------------------------------------------------------

function params() { return new URLSearchParams(location.search); }

// /publish with the institution (admins) and the given parameters, then #hash.
function pageUrl(extra = {}, hash = '') {
  const p = new URLSearchParams();
  if (admin && inst) p.set('institution', inst);
  for (const [k, v] of Object.entries(extra)) if (v) p.set(k, v);
  const q = p.toString();
  return `/publish${q ? `?${q}` : ''}${hash ? `#${hash}` : ''}`;
}

function setParams(changes) {
  const url = new URL(location.href);
  for (const [k, v] of Object.entries(changes)) {
    if (v) url.searchParams.set(k, v);
    else url.searchParams.delete(k);
  }
  history.replaceState(history.state, '', url);
}

// In-page links that change the query (?offer=): no reload, the back button works.
function go(href) {
  history.pushState(null, '', href);
  route(true);
}

function inPageLink(props, text) {
  const a = el('a', props, ...(Array.isArray(text) ? text : [text]));
  a.addEventListener('click', (e) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    go(a.getAttribute('href'));
  });
  return a;
}

// ---- the gate ----------------------------------------------------------------------

function showGate(signedIn) {
  stopPolling();
  showStaffGate('pub', signedIn, { href: '/', key: 'pub.to_catalogue' });
  gateShown = signedIn ? 'forbidden' : 'login';
}
let gateShown = '';

// 401/403 from any call: the session ended or the account may not do this.
function gateFor(err) {
  if (err && err.status === 401) { showGate(false); return true; }
  if (err && err.status === 403) { showGate(true); return true; }
  return false;
}

// ---- sections ----------------------------------------------------------------------

function currentSection() {
  const h = location.hash.slice(1);
  return SECTIONS.includes(h) ? h : 'offers';
}

function route(userAction = false) {
  if ($('app').hidden) return;
  const section = currentSection();
  const offerId = params().get('offer') || '';
  for (const s of SECTIONS) $(s).hidden = s !== section;
  for (const a of document.querySelectorAll('.pub-tabs a[data-tab]')) {
    if (a.dataset.tab === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  $('tab-template-item').hidden = !offerId;
  if (section === 'template') {
    $('template-none').hidden = Boolean(offerId);
    $('template-body').hidden = !offerId || tplOfferId !== offerId;
    if (offerId && offerId !== tplOfferId) loadTemplate(offerId);
  }
  if (section === 'issue' && offerId && offersById.has(offerId) && !preview && !batch) {
    $('issue-offer').value = offerId;
  }
  if (section === 'registry') loadRegistry();
  if (userAction) $(section).focus({ preventScroll: false });
}

// ---- offers ------------------------------------------------------------------------

function credentialsCell(o) {
  const c = o.credentials || {};
  if (!STATES.some((s) => c[s] > 0)) return el('span', { class: 'muted small', text: t('pub.count.none') });
  const parts = [];
  for (const s of ['delivered', 'queued', 'sending', 'failed', 'revoked']) {
    const n = c[s] || 0;
    if (n > 0 || s === 'delivered' || s === 'queued') {
      parts.push(el('li', { class: s === 'failed' && n > 0 ? 'pub-bad' : null },
        t(`pub.count.${s}`, { n: formatNumber(n) })));
    }
  }
  return el('ul', { class: 'pub-counts' }, ...parts);
}

function completenessCell(o) {
  const missing = ((o.completeness && o.completeness.missing) || []).filter((m) => MISSING.includes(m));
  const title = offerTitle(o);
  const tplLink = (key) => inPageLink({
    href: pageUrl({ offer: o.id }, 'template'), class: 'pub-fix',
  }, [t(key), el('span', { class: 'visually-hidden', text: `: ${title}` })]);
  const template = el('p', { class: 'muted small pub-tpl', 'data-template': o.template || 'none' },
    o.template === 'inherited'
      ? inPageLink({ href: pageUrl({ offer: DEFAULT }, 'template') }, [t('pub.tpl.inherited'),
        el('span', { class: 'visually-hidden', text: `: ${title}` })])
      : t(`pub.tpl.${o.template || 'none'}`));
  if (!missing.length) {
    return el('div', { class: 'pub-complete', 'data-ready': 'true' },
      el('span', { class: 'pill state-delivered', text: t('pub.ready') }), ' ',
      tplLink('pub.edit_template'), template);
  }
  const fixable = missing.filter((m) => !OFFER_ONLY.includes(m));
  const offerOnly = missing.filter((m) => OFFER_ONLY.includes(m));
  return el('div', { class: 'pub-complete', 'data-ready': 'false', 'data-missing': missing.join(' ') },
    el('p', { class: 'pub-warning' }, el('span', { class: 'pub-warn-icon', 'aria-hidden': 'true', text: '!' }),
      t('pub.missing', { fields: missingWords(missing) })),
    el('p', { class: 'pub-fix-line' },
      fixable.length ? tplLink('pub.fix') : null,
      fixable.length && offerOnly.length ? ' · ' : null,
      offerOnly.length ? el('a', { href: '#upload', class: 'pub-fix' },
        t('pub.fix_upload', { fields: missingWords(offerOnly) })) : null),
    template);
}

// Above the offers: whether the institution has a default template, how many offers
// use it, and the way to it.
function renderDefaultLine() {
  const line = $('default-line');
  if (!defaultAnswer) { line.hidden = true; return; }
  const set = Boolean(defaultAnswer.template);
  line.hidden = false;
  line.dataset.default = set ? 'set' : 'none';
  line.replaceChildren(
    el('strong', { text: t('pub.default_label') }), ' ',
    el('span', {
      id: 'default-state', text: set ? plural('pub.default_set', inheritingCount()) : t('pub.default_none'),
    }),
    ' ',
    inPageLink({ href: pageUrl({ offer: DEFAULT }, 'template'), id: 'default-link' }, t('pub.default_edit')),
  );
}

function renderOffers() {
  if (!offers) return;
  const table = $('offers-table');
  table.removeAttribute('aria-busy');
  offers.sort((a, b) => offerTitle(a).localeCompare(offerTitle(b), lang()));
  table.querySelector('tbody').replaceChildren(...offers.map((o) => el('tr', {
    'data-id': o.id, 'data-external-id': o.external_id,
  },
  el('th', { scope: 'row' }, el('a', { href: `/offers/${encodeURIComponent(o.id)}` }, textNode(o.title, o.external_id))),
  el('td', {}, el('code', { text: o.external_id })),
  el('td', { text: typeof o.ects === 'number' ? formatNumber(o.ects) : '—' }),
  el('td', { text: o.eqf ? String(o.eqf) : '—' }),
  el('td', { class: 'nowrap', text: o.starts ? formatDate(o.starts) : '—' }),
  el('td', {}, credentialsCell(o)),
  el('td', { class: 'pub-completeness-cell' }, completenessCell(o)))));
  $('offers-empty').hidden = offers.length > 0;
  fillOfferSelects();
  renderDefaultLine();
  if (isDefault()) renderTemplateStatus(); // how many offers use the default
}

async function loadOffers() {
  $('offers-error').textContent = '';
  $('offers-table').setAttribute('aria-busy', 'true');
  // the default template beside: the line above the table (a failure only hides it)
  const dflt = api(defaultPath()).catch(() => null);
  try {
    const r = await api(`/institutions/${encodeURIComponent(inst)}/offers`);
    offers = r.items || [];
    defaultAnswer = await dflt;
  } catch (err) {
    $('offers-table').removeAttribute('aria-busy');
    if (gateFor(err)) return false;
    $('offers-error').textContent = `${t('pub.offers_error')} ${err.message}`;
    return true;
  }
  offersById = new Map(offers.map((o) => [o.id, o]));
  renderOffers();
  return true;
}

// Under the issue section's offer: whether its credential can be issued (the server
// refuses one that lacks a mandatory element), with the way to fix it.
function renderIssueOfferState() {
  const box = $('issue-offer-state');
  const o = offersById.get($('issue-offer').value);
  const missing = ((o && o.completeness && o.completeness.missing) || []).filter((m) => MISSING.includes(m));
  box.classList.toggle('pub-warning', missing.length > 0);
  if (!o || !missing.length) {
    box.replaceChildren();
    return;
  }
  box.replaceChildren(t('pub.issue_incomplete', { fields: missingWords(missing) }), ' ',
    inPageLink({ href: pageUrl({ offer: o.id }, 'template'), class: 'pub-fix' }, t('pub.fix')));
}

function fillOfferSelects() {
  const options = () => (offers || []).map((o) => new Option(`${offerTitle(o)} (${o.external_id})`, o.id));
  const issue = $('issue-offer');
  const keepIssue = issue.value || params().get('offer') || '';
  issue.replaceChildren(new Option(t('pub.choose_offer'), ''), ...options());
  if (offersById.has(keepIssue)) issue.value = keepIssue;
  renderIssueOfferState();
  const reg = $('r-offer');
  const keepReg = reg.value || params().get('r_offer') || '';
  reg.replaceChildren(new Option(t('pub.all_offers'), ''), ...options());
  if (offersById.has(keepReg)) reg.value = keepReg;
}

// ---- the template editor -------------------------------------------------------------

function langLabel(key, l, extra) {
  return `${t(key, extra)} (${languageName(l)})`;
}

// One input (or textarea) per template language for a language map.
function langFields(container, name, labelKey, map, { textarea = false, path = name, extra } = {}) {
  container.replaceChildren(...tplLangs.map((l) => {
    const id = `${path.replace(/[^a-z0-9]+/gi, '-')}-${l}`;
    const input = el(textarea ? 'textarea' : 'input', {
      id, lang: l, 'data-field': `${path}.${l}`, 'data-lang': l,
      type: textarea ? null : 'text', rows: textarea ? '3' : null,
    });
    input.value = (map && map[l]) || '';
    const label = el('label', { for: id, 'data-label-key': labelKey, 'data-lang': l },
      langLabel(labelKey, l, extra));
    if (extra) label.dataset.labelVars = JSON.stringify(extra);
    return el('div', { class: 'field' }, label, input);
  }));
}

function readMap(container) {
  const map = {};
  for (const input of container.querySelectorAll('[data-lang]:is(input, textarea)')) {
    const v = input.value.trim();
    if (v) map[input.dataset.lang] = v;
  }
  return Object.keys(map).length ? map : null;
}

function relabel() {
  for (const label of document.querySelectorAll('#template-form label[data-label-key]')) {
    const vars = label.dataset.labelVars ? JSON.parse(label.dataset.labelVars) : undefined;
    label.textContent = langLabel(label.dataset.labelKey, label.dataset.lang, vars);
  }
  for (const btn of document.querySelectorAll('#outcomes button.pub-remove')) {
    btn.textContent = t('pub.outcome_remove', { n: btn.dataset.n });
  }
}

function outcomeRow(map) {
  const li = el('li', { class: 'pub-outcome' });
  li.append(el('div', { class: 'pub-grid pub-outcome-fields' }),
    el('button', { type: 'button', class: 'secondary pub-remove' }));
  li.querySelector('button').addEventListener('click', () => {
    const next = li.nextElementSibling || li.previousElementSibling;
    li.remove();
    numberOutcomes();
    (next ? next.querySelector('textarea') : $('outcome-add')).focus();
  });
  li.dataset.map = JSON.stringify(map || {});
  return li;
}

// (Re)builds each outcome row's fields with its number: labels and paths follow it.
function numberOutcomes() {
  const rows = [...$('outcomes').children];
  rows.forEach((li, i) => {
    const box = li.querySelector('.pub-outcome-fields');
    const current = box.children.length ? readMap(box) || {} : JSON.parse(li.dataset.map || '{}');
    langFields(box, 'outcome', 'pub.outcome_n', current,
      { textarea: true, path: `learning_outcomes[${i}]`, extra: { n: i + 1 } });
    const btn = li.querySelector('button.pub-remove');
    btn.dataset.n = String(i + 1);
    btn.textContent = t('pub.outcome_remove', { n: i + 1 });
  });
}

function addOutcome(map, focus = false) {
  const li = outcomeRow(map);
  $('outcomes').append(li);
  numberOutcomes();
  if (focus) li.querySelector('textarea').focus();
}

function fromOffer(id, text) {
  const p = $(id);
  p.textContent = text || '';
  p.hidden = !text;
}

function listText(list) {
  return (list || []).map((m) => pickText(m)).filter(Boolean).join(' · ');
}

const OFFER_HINTS = ['title-from', 't-ects-from', 't-eqf-from', 'outcomes-from', 'assessment-from', 'qa-from'];

function renderTemplateHints() {
  if (isDefault()) {
    // no offer to compare with; only the title's warning: a default title would be
    // every offer's
    for (const id of OFFER_HINTS) fromOffer(id, '');
    fromOffer('title-from', t('pub.default_title_hint'));
    return;
  }
  const o = tplOffer || {};
  fromOffer('title-from', pickText(o.title) ? t('pub.title_from', { value: pickText(o.title) }) : '');
  fromOffer('t-ects-from', typeof o.ects === 'number'
    ? t('pub.from_offer', { value: formatNumber(o.ects) }) : t('pub.offer_lacks'));
  fromOffer('t-eqf-from', o.eqf ? t('pub.from_offer', { value: String(o.eqf) }) : t('pub.offer_lacks'));
  const lo = listText(o.learning_outcomes);
  fromOffer('outcomes-from', lo ? t('pub.from_offer', { value: lo }) : t('pub.offer_lacks'));
  fromOffer('assessment-from', pickText(o.assessment)
    ? t('pub.from_offer', { value: pickText(o.assessment) }) : t('pub.offer_lacks'));
  fromOffer('qa-from', pickText(o.quality_assurance)
    ? t('pub.from_offer', { value: pickText(o.quality_assurance) }) : t('pub.offer_lacks'));
}

function defaultLink(key) {
  return inPageLink({ href: pageUrl({ offer: DEFAULT }, 'template'), class: 'pub-default-link' }, t(key));
}

// The default's editor: whose default, whether it is set and how many offers use it.
function renderDefaultStatus() {
  const set = Boolean(tplAnswer.template);
  $('template-heading').textContent = t('pub.default_heading', { inst: institutionName(insts.get(inst), inst) });
  const when = set && tplAnswer.updated_at
    ? ` ${t('pub.default_updated', { date: formatDateTime(tplAnswer.updated_at) })}` : '';
  $('template-offer').replaceChildren(el('span', { class: `pill ${set ? 'state-delivered' : 'state-revoked'}`,
    text: t(set ? 'pub.default_is_set' : 'pub.default_is_none') }), ' ',
  el('span', { text: (set ? plural('pub.default_used', inheritingCount()) : t('pub.default_none_yet')) + when }));
  $('template-intro').textContent = t('pub.default_intro');
  const box = $('template-completeness');
  box.hidden = true;
  box.replaceChildren();
  $('default-remove').hidden = !set;
}

function renderTemplateStatus() {
  if (!tplAnswer) return;
  if (isDefault()) { renderDefaultStatus(); return; }
  $('template-heading').textContent = t('pub.template');
  $('default-remove').hidden = true;
  const o = offersById.get(tplOfferId) || tplOffer || {};
  $('template-offer').replaceChildren(
    el('strong', {}, textNode(o.title, o.external_id || tplOfferId)), ' ',
    o.external_id ? el('code', { text: o.external_id }) : '');
  $('template-intro').replaceChildren(...(tplAnswer.inherited
    ? [t('pub.template_inherited'), ' ', defaultLink('pub.default_edit')]
    : [tplAnswer.template ? t('pub.template_own') : t('pub.template_new')]));
  const missing = (tplAnswer.completeness && tplAnswer.completeness.missing) || [];
  const box = $('template-completeness');
  box.hidden = false;
  box.dataset.missing = missing.join(' ');
  if (!missing.length) {
    box.className = 'pub-completeness is-ready';
    box.replaceChildren(el('span', { class: 'pill state-delivered', text: t('pub.ready') }), ' ',
      t('pub.ready_text'));
  } else {
    const offerOnly = missing.filter((m) => OFFER_ONLY.includes(m));
    box.className = 'pub-completeness is-missing';
    box.replaceChildren(el('strong', {}, t('pub.missing', { fields: missingWords(missing) })),
      offerOnly.length ? el('span', {}, ' ', el('a', { href: '#upload' },
        t('pub.fix_upload', { fields: missingWords(offerOnly) }))) : '');
  }
}

function fillEqfSelect() {
  const s = $('t-eqf');
  const keep = s.value;
  s.replaceChildren(new Option(t('pub.eqf_none'), ''),
    ...[1, 2, 3, 4, 5, 6, 7, 8].map((n) => new Option(t('eqf', { n }), String(n))));
  s.value = keep;
}

function templateLanguages(tpl) {
  const langs = ['en'];
  const i = insts.get(inst);
  if (i && i.names) langs.push(...Object.keys(i.names));
  const maps = tpl ? [tpl.awarding_body && tpl.awarding_body.name, tpl.title, tpl.assessment,
    tpl.quality_assurance, ...(tpl.learning_outcomes || [])] : [];
  for (const m of maps) if (m) langs.push(...Object.keys(m));
  return [...new Set(langs.filter((l) => /^[a-z]{2,3}$/.test(l)))];
}

function fillTemplateForm() {
  const tpl = (tplAnswer && tplAnswer.template) || null;
  tplLangs = templateLanguages(tpl);
  const i = insts.get(inst) || {};
  const ab = (tpl && tpl.awarding_body) || {
    id: inst, name: i.names || (i.name ? { en: i.name } : null), country: i.country,
    homepage: i.homepage,
  };
  $('ab-id').value = ab.id || '';
  $('ab-country').value = ab.country || '';
  $('ab-homepage').value = ab.homepage || '';
  langFields($('ab-names'), 'ab-name', 'pub.ab_name', ab.name, { path: 'awarding_body.name' });
  langFields($('title-fields'), 'title', 'pub.cred_title', tpl && tpl.title, { path: 'title' });
  $('t-ects').value = tpl && typeof tpl.ects === 'number' ? String(tpl.ects) : '';
  fillEqfSelect();
  $('t-eqf').value = tpl && tpl.eqf ? String(tpl.eqf) : '';
  $('t-isced').value = tpl && tpl.isced ? tpl.isced.join(', ') : '';
  $('outcomes').replaceChildren();
  for (const m of (tpl && tpl.learning_outcomes) || []) addOutcome(m);
  const missing = (tplAnswer && tplAnswer.completeness && tplAnswer.completeness.missing) || [];
  if (!$('outcomes').children.length && missing.includes('learning_outcomes')) addOutcome({});
  langFields($('assessment-fields'), 'assessment', 'pub.assessment', tpl && tpl.assessment,
    { textarea: true, path: 'assessment' });
  langFields($('qa-fields'), 'qa', 'pub.qa', tpl && tpl.quality_assurance,
    { textarea: true, path: 'quality_assurance' });
  clearTemplateErrors();
}

function clearTemplateErrors() {
  $('template-error').textContent = '';
  $('template-error-2').textContent = '';
  for (const x of document.querySelectorAll('#template-form [aria-invalid]')) x.removeAttribute('aria-invalid');
}

async function loadTemplate(offerId) {
  tplOfferId = offerId;
  tplAnswer = null;
  tplOffer = null;
  $('template-body').hidden = true;
  $('template-saved').textContent = '';
  $('template-none').hidden = true;
  $('template-heading').textContent = t(offerId === DEFAULT ? 'pub.default_template' : 'pub.template');
  try {
    const [answer, offer] = await Promise.all(offerId === DEFAULT ? [api(defaultPath()), null] : [
      api(`/offers/${encodeURIComponent(offerId)}/credential-template`),
      api(`/offers/${encodeURIComponent(offerId)}`).catch(() => null),
    ]);
    if (tplOfferId !== offerId) return;
    tplAnswer = answer;
    tplOffer = offer;
  } catch (err) {
    if (tplOfferId !== offerId) return;
    if (err.status === 401) { showGate(false); return; }
    $('template-none').hidden = false;
    $('template-none').textContent = offerId === DEFAULT ? `${t('pub.default_error')} ${err.message}`
      : err.status === 404 || err.status === 403 ? t('pub.template_not_found') : err.message;
    return;
  }
  fillTemplateForm();
  renderTemplateHints();
  renderTemplateStatus();
  $('template-body').hidden = false;
}

function collectTemplate() {
  const old = (tplAnswer && tplAnswer.template) || {};
  const body = {};
  const ab = { id: $('ab-id').value.trim(), name: readMap($('ab-names')) };
  const country = $('ab-country').value.trim().toUpperCase();
  if (country) ab.country = country;
  if ($('ab-homepage').value.trim()) ab.homepage = $('ab-homepage').value.trim();
  body.awarding_body = ab;
  const title = readMap($('title-fields'));
  if (title) body.title = title;
  const outcomes = [...$('outcomes').children]
    .map((li) => readMap(li.querySelector('.pub-outcome-fields'))).filter(Boolean);
  if (outcomes.length) body.learning_outcomes = outcomes;
  const ects = $('t-ects').value.trim();
  if (ects !== '') body.ects = Number.isFinite(Number(ects)) ? Number(ects) : ects;
  if ($('t-eqf').value) body.eqf = Number($('t-eqf').value);
  const isced = $('t-isced').value.split(/[\s,;]+/).filter(Boolean);
  if (isced.length) body.isced = isced;
  const assessment = readMap($('assessment-fields'));
  if (assessment) body.assessment = assessment;
  const qa = readMap($('qa-fields'));
  if (qa) body.quality_assurance = qa;
  // kept as they are: not edited on this page (the Europass issuer delivers by e-mail
  // whatever `delivery` says: docs/issuing.md)
  if (old.delivery) body.delivery = old.delivery;
  if (old.eseal_profile) body.eseal_profile = old.eseal_profile;
  if (old.language) body.language = old.language;
  return body;
}

// The field a server message names ("awarding_body.country must be …"): its input.
function fieldFor(message) {
  const named = String(message || '').split(/\s/)[0];
  if (!named) return null;
  const fields = [...document.querySelectorAll('#template-form [data-field]')];
  return fields.find((f) => f.dataset.field === named)
    || fields.find((f) => f.dataset.field.startsWith(`${named}.`) || f.dataset.field.startsWith(`${named}[`))
    || fields.find((f) => named.startsWith(`${f.dataset.field}.`) || named.startsWith(`${f.dataset.field}[`));
}

async function saveTemplate(e) {
  e.preventDefault();
  clearTemplateErrors();
  $('template-saved').textContent = '';
  const btn = $('template-save');
  btn.disabled = true;
  btn.textContent = t('pub.saving');
  const offerId = tplOfferId;
  const dflt = offerId === DEFAULT;
  try {
    const answer = await api(dflt ? defaultPath() : `/offers/${encodeURIComponent(offerId)}/credential-template`,
      { method: 'PUT', body: collectTemplate() });
    if (tplOfferId !== offerId) return;
    tplAnswer = answer;
    if (dflt) defaultAnswer = answer;
    renderTemplateStatus();
    const missing = (tplAnswer.completeness && tplAnswer.completeness.missing) || [];
    $('template-saved').textContent = dflt ? t('pub.default_saved')
      : missing.length ? t('pub.saved_missing', { fields: missingWords(missing) }) : t('pub.saved_ready');
    loadOffers(); // each offer's template and completeness follow
  } catch (err) {
    if (gateFor(err)) return;
    const msg = err.status === 422 || err.status === 400 ? t('pub.template_refused', { message: err.message }) : err.message;
    $('template-error').textContent = msg;
    $('template-error-2').textContent = msg;
    const field = fieldFor(err.message);
    if (field) {
      field.setAttribute('aria-invalid', 'true');
      field.focus();
    }
  } finally {
    btn.disabled = false;
    btn.textContent = t('pub.template_save');
  }
}

// Remove the default (after the dialog's confirmation): offers without their own
// template then have none.
function openRemoveDefault() {
  const n = inheritingCount();
  $('default-remove-text').textContent = `${plural('pub.default_remove_used', n)} ${t('pub.default_remove_text')}`;
  $('default-remove-error').textContent = '';
  $('default-remove-dialog').showModal();
  $('default-remove-cancel').focus();
}

function closeRemoveDefault() {
  const d = $('default-remove-dialog');
  if (d.open) d.close();
}

async function removeDefault(e) {
  e.preventDefault();
  const btn = $('default-remove-confirm');
  btn.disabled = true;
  $('default-remove-error').textContent = '';
  try {
    await api(defaultPath(), { method: 'DELETE' });
  } catch (err) {
    btn.disabled = false;
    if (err.status === 401 || err.status === 403) { closeRemoveDefault(); gateFor(err); return; }
    $('default-remove-error').textContent = err.message;
    return;
  }
  btn.disabled = false;
  closeRemoveDefault();
  defaultAnswer = { institution: inst, template: null, updated_at: null };
  if (isDefault()) {
    tplAnswer = defaultAnswer;
    fillTemplateForm(); // the awarding body from the institution's record again
    renderTemplateHints();
    renderTemplateStatus();
    $('template-saved').textContent = t('pub.default_removed');
    $('template').focus();
  }
  loadOffers();
}

// ---- upload a LOQ file -----------------------------------------------------------------

function figure(label, n, cls) {
  return el('div', { class: `figure ${cls}`, 'data-count': label },
    el('dt', { text: t(`pub.n_${label}`) }), el('dd', { text: formatNumber(n) }));
}

let uploadReport = null;

function renderUploadReport() {
  const r = uploadReport;
  if (!r) return;
  $('upload-report').hidden = false;
  const rejected = r.rejected || [];
  $('upload-counts').replaceChildren(figure('accepted', r.accepted || 0, 'figure-issued'),
    figure('unchanged', r.unchanged || 0, ''), figure('removed', r.removed || 0, 'figure-applied'),
    figure('rejected', rejected.length, 'figure-rejected'));
  $('upload-none-rejected').hidden = rejected.length > 0;
  $('rejected-box').hidden = rejected.length === 0;
  $('rejected-table').querySelector('tbody').replaceChildren(...rejected.map((x) => el('tr', {
    'data-index': String(x.index), 'data-external-id': x.external_id || '',
  },
  el('td', { text: formatNumber((x.index ?? 0) + 1) }),
  el('th', { scope: 'row' }, x.external_id ? el('code', { text: x.external_id }) : el('span', { class: 'muted', text: '—' })),
  el('td', { class: 'pub-line', text: x.line ? String(x.line) : '—' }),
  el('td', { class: 'details' }, el('ul', { class: 'reasons' }, ...(x.errors || []).map((er) => el('li', {},
    er.line ? el('span', { class: 'pub-errline', text: `${t('pub.line_n', { n: er.line })}: ` }) : null,
    er.message || '', er.path ? el('code', { class: 'pub-path', text: er.path }) : null)))))));
}

function wholeFileError(err) {
  const lines = (err.details || []).map((d) => [d.line ? t('pub.line_n', { n: d.line }) : '', d.message]
    .filter(Boolean).join(': '));
  return [err.message, ...lines].join(' — ');
}

async function upload(e) {
  e.preventDefault();
  const file = $('loq-file').files[0];
  const mode = document.querySelector('#upload-form input[name="mode"]:checked').value;
  const box = $('upload-error');
  box.textContent = '';
  $('loq-file').removeAttribute('aria-invalid');
  if (!file) {
    box.textContent = t('pub.choose_file');
    $('loq-file').setAttribute('aria-invalid', 'true');
    $('loq-file').focus();
    return;
  }
  if (mode === 'replace' && !$('replace-confirm').checked) {
    box.textContent = t('pub.replace_unconfirmed');
    $('replace-confirm').focus();
    return;
  }
  const btn = $('upload-submit');
  btn.disabled = true;
  $('upload-progress').hidden = false;
  $('upload-status').textContent = t('pub.uploading');
  $('upload-report').hidden = true;
  try {
    uploadReport = await api(`/institutions/${encodeURIComponent(inst)}/catalogue?mode=${mode}`,
      { method: 'POST', body: file, contentType: 'application/xml' });
    renderUploadReport();
    $('upload-status').textContent = t('pub.upload_done', {
      accepted: uploadReport.accepted || 0, rejected: (uploadReport.rejected || []).length,
    });
    loadOffers();
  } catch (err) {
    if (gateFor(err)) return;
    $('upload-status').textContent = '';
    box.textContent = `${t('pub.upload_refused')} ${wholeFileError(err)}`;
  } finally {
    btn.disabled = false;
    $('upload-progress').hidden = true;
  }
}

// ---- issue from Moodle ---------------------------------------------------------------

function rowStatus(s) {
  return el('span', { class: `pill row-${s}`, text: t(`pub.row.${s}`) });
}

function renderReportRows(report) {
  $('preview-table').querySelector('tbody').replaceChildren(...(report.rows || []).map((r) => el('tr', {
    'data-row': String(r.row), 'data-status': r.status,
  },
  el('th', { scope: 'row', text: String(r.row) }),
  el('td', { class: 'student', text: r.email || '—' }),
  el('td', {}, rowStatus(r.status)),
  el('td', { class: 'details', text: r.reason || '' }))));
}

function renderPreview() {
  const report = imported || (preview && preview.report);
  if (!report) { $('preview').hidden = true; return; }
  $('preview').hidden = false;
  $('preview-heading').textContent = imported ? t('pub.import_heading') : t('pub.preview_heading');
  const skipped = report.skipped || 0;
  const queued = report.queued || 0;
  $('preview-summary').textContent = imported
    ? t('pub.import_summary', { queued: formatNumber(queued), skipped: formatNumber(skipped) })
    : t('pub.preview_summary', { queued: formatNumber(queued), skipped: formatNumber(skipped) })
      + (report.grade_column ? ` ${t('pub.grade_column', { column: report.grade_column })}` : '');
  renderReportRows(report);
  const btn = $('issue-btn');
  btn.hidden = Boolean(imported);
  btn.disabled = queued === 0;
  btn.textContent = queued === 0 ? t('pub.nothing_to_issue') : plural('pub.issue_n', queued);
}

function importUrl(p, dry) {
  const q = new URLSearchParams({ offer_id: p.offerId });
  if (p.passMark) q.set('pass_mark', p.passMark);
  if (dry) q.set('dry_run', '1');
  return `/credentials/import?${q}`;
}

function resetIssue() {
  preview = null;
  imported = null;
  renderPreview();
}

async function runPreview(e) {
  e.preventDefault();
  const box = $('issue-error');
  box.textContent = '';
  for (const x of document.querySelectorAll('#issue-form [aria-invalid]')) x.removeAttribute('aria-invalid');
  const p = {
    offerId: $('issue-offer').value, passMark: $('pass-mark').value.trim(), file: $('csv-file').files[0],
  };
  if (!p.offerId) {
    box.textContent = t('pub.choose_offer_first');
    $('issue-offer').setAttribute('aria-invalid', 'true');
    $('issue-offer').focus();
    return;
  }
  if (!p.file) {
    box.textContent = t('pub.choose_file');
    $('csv-file').setAttribute('aria-invalid', 'true');
    $('csv-file').focus();
    return;
  }
  stopPolling();
  batch = null;
  $('sending').hidden = true;
  resetIssue();
  const btn = $('preview-btn');
  btn.disabled = true;
  $('issue-status').textContent = t('pub.previewing');
  try {
    const report = await api(importUrl(p, true), { method: 'POST', body: p.file, contentType: 'text/csv' });
    preview = { ...p, report };
    renderPreview();
    $('issue-status').textContent = $('preview-summary').textContent;
  } catch (err) {
    if (gateFor(err)) return;
    $('issue-status').textContent = '';
    box.textContent = `${t('pub.import_refused')} ${err.message}`;
  } finally {
    btn.disabled = false;
  }
}

async function runImport() {
  if (!preview) return;
  const btn = $('issue-btn');
  btn.disabled = true;
  $('issue-error').textContent = '';
  $('issue-status').textContent = t('pub.importing');
  try {
    imported = await api(importUrl(preview, false),
      { method: 'POST', body: preview.file, contentType: 'text/csv' });
  } catch (err) {
    btn.disabled = false;
    if (gateFor(err)) return;
    $('issue-status').textContent = '';
    $('issue-error').textContent = `${t('pub.import_refused')} ${err.message}`;
    return;
  }
  renderPreview();
  loadOffers();
  if (!imported.queued) {
    $('issue-status').textContent = t('pub.nothing_queued');
    return;
  }
  batch = { id: imported.batch || null, answer: null, timer: null, started: Date.now(), total: imported.queued };
  $('sending').hidden = false;
  renderSending();
  poll();
}

function batchCounts(answer) {
  if (answer && answer.counts) return answer.counts;
  const c = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const x of (answer && answer.items) || []) if (x.state in c) c[x.state] += 1;
  return c;
}

function renderSending() {
  if (!batch) return;
  const c = batchCounts(batch.answer);
  const total = batch.answer ? STATES.reduce((n, s) => n + (c[s] || 0), 0) || batch.total : batch.total;
  const done = (c.delivered || 0) + (c.failed || 0) + (c.revoked || 0);
  const pending = batch.answer ? (c.queued || 0) + (c.sending || 0) : total;
  const bar = $('send-bar');
  bar.max = Math.max(total, 1);
  bar.value = batch.answer ? done : 0;
  $('send-label').textContent = t('pub.send_label', { n: formatNumber(c.delivered || 0), m: formatNumber(total) });
  const parts = [t('pub.sent_of', { n: formatNumber(c.delivered || 0), m: formatNumber(total) })];
  if (c.failed) parts.push(t('pub.n_failed', { n: formatNumber(c.failed) }));
  if (pending === 0) parts.push(t('pub.all_sent'));
  const text = $('send-text');
  text.textContent = parts.join(' · ');
  text.dataset.done = pending === 0 ? 'true' : 'false';
  const failed = ((batch.answer && batch.answer.items) || []).filter((x) => x.state === 'failed');
  $('failed-box').hidden = failed.length === 0;
  $('failed-list').replaceChildren(...failed.map((x) => el('li', { 'data-id': x.id },
    el('strong', { text: learnerName(x) }), ` (${learnerEmail(x) || '—'}): `, x.last_error || t('pub.no_error'))));
}

function stopPolling() {
  if (batch && batch.timer) clearTimeout(batch.timer);
  if (batch) batch.timer = null;
}

async function poll() {
  if (!batch) return;
  const current = batch;
  const q = new URLSearchParams();
  if (current.id) q.set('batch', current.id);
  else if (preview) q.set('offer_id', preview.offerId);
  try {
    current.answer = await api(`/credentials?${q}`);
  } catch (err) {
    if (gateFor(err)) return;
  }
  if (batch !== current) return;
  renderSending();
  const c = batchCounts(current.answer);
  const pending = current.answer ? (c.queued || 0) + (c.sending || 0) : 1;
  if (pending > 0) {
    // every half second at first; a batch waiting for retries is asked less often
    const wait = Date.now() - current.started > 120000 ? 5000 : POLL_MS;
    current.timer = setTimeout(poll, wait);
  } else {
    current.timer = null;
    loadOffers();
    if (registry) registry = null; // stale: read again when shown
  }
}

// ---- the registry ----------------------------------------------------------------------

function learnerName(c) {
  const l = c.learner || {};
  return [l.given_name, l.family_name].filter(Boolean).join(' ') || l.name || '—';
}

function learnerEmail(c) {
  return (c.learner && c.learner.email) || '';
}

function registryQuery() {
  const q = new URLSearchParams();
  if (admin && inst) q.set('institution', inst); // an admin's registry holds every institution's
  if ($('r-offer').value) q.set('offer_id', $('r-offer').value);
  if ($('r-state').value) q.set('state', $('r-state').value);
  const learner = $('r-learner').value.trim();
  if (learner) q.set('learner', learner);
  return q;
}

function syncRegistryAddress() {
  setParams({ r_offer: $('r-offer').value, state: $('r-state').value, learner: $('r-learner').value.trim() });
}

// a date over its time, both UTC
function dateCell(value) {
  if (!value) return el('td', { text: '—' });
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return el('td', { text: value });
  const time = new Intl.DateTimeFormat(lang() === 'lt' ? 'lt-LT' : 'en-GB', {
    timeStyle: 'short', timeZone: 'UTC',
  }).format(d);
  return el('td', { class: 'nowrap' }, el('time', { datetime: value }, formatDate(value),
    el('span', { class: 'pub-time', text: `${time} UTC` })));
}

function attemptsCell(c) {
  return el('td', { class: 'details' }, String(c.attempts ?? 0),
    c.last_error ? el('p', { class: 'small pub-error-text', text: c.last_error }) : null);
}

function stateCell(c) {
  return el('td', {}, el('span', { class: `pill state-${c.state}`, text: t(`pub.state.${c.state}`) }),
    c.state === 'revoked' && c.revoke_reason
      ? el('p', { class: 'small muted', text: `${formatDate(c.revoked_at)}: ${c.revoke_reason}` }) : null);
}

function renderRegistry() {
  if (!registry) return;
  const table = $('registry-table');
  table.removeAttribute('aria-busy');
  const items = registry.items;
  table.querySelector('tbody').replaceChildren(...items.map((c) => {
    const name = learnerName(c);
    const offer = offersById.get(c.offer_id);
    // /verify knows a credential once it was delivered (revoked after, it says so)
    const actions = el('td', { class: 'pub-actions-cell' }, c.delivered_at
      ? el('a', {
        href: c.verify_url || `/verify/${encodeURIComponent(c.id)}`, class: 'pub-verify',
        'aria-label': t('pub.verify_label', { name }),
      }, t('pub.verify'))
      : null);
    // sealed here (the local adapter): the file the learner gets, to hand over by hand
    if (c.europass && c.europass.download_url && c.state === 'delivered') {
      actions.append(el('a', {
        href: c.europass.download_url, class: 'pub-sealed', download: `credential-${c.id}.json`,
        'aria-label': t('pub.sealed_label', { name }),
      }, t('pub.sealed')));
    }
    if (c.state === 'failed') {
      const again = el('button', {
        type: 'button', class: 'secondary pub-reissue', 'aria-label': t('pub.send_again_label', { name }),
        text: t('pub.send_again'),
      });
      again.addEventListener('click', () => sendAgain(c, again));
      actions.append(again);
    }
    if (c.state !== 'revoked') {
      const btn = el('button', {
        type: 'button', class: 'secondary pub-revoke', 'aria-label': t('pub.revoke_label', { name }),
        text: t('pub.revoke'),
      });
      btn.addEventListener('click', () => openRevoke(c, btn));
      actions.append(btn);
    }
    return el('tr', { 'data-id': c.id, 'data-state': c.state, 'data-email': learnerEmail(c) },
      el('th', { scope: 'row' }, name, learnerEmail(c) ? el('span', { class: 'pub-email', text: learnerEmail(c) }) : null),
      el('td', {}, offer ? textNode(offer.title, c.title) : document.createTextNode(c.title || '')),
      el('td', { text: (c.result && c.result.grade) || '—' }),
      stateCell(c),
      attemptsCell(c),
      dateCell(c.created_at),
      dateCell(c.delivered_at),
      actions);
  }));
  $('registry-empty').hidden = items.length > 0;
  // the API lists the newest 5,000; `counts` (every state, unless one is chosen) says
  // how many match
  const counts = registry.counts || {};
  const state = $('r-state').value;
  const matching = state ? (counts[state] || 0)
    : Object.values(counts).reduce((a, n) => a + (Number(n) || 0), 0);
  $('registry-total').textContent = matching > items.length
    ? t('pub.registry_newest', { n: formatNumber(items.length), m: formatNumber(matching) })
    : plural('pub.credentials', items.length);
}

// A failed credential, once its cause is fixed, goes again as a new credential (POST
// …/reissue: a new id, `reissue_of` the failed one, which stays failed).
async function sendAgain(c, button) {
  $('registry-error').textContent = '';
  $('registry-status').textContent = '';
  button.disabled = true;
  try {
    await api(`/credentials/${encodeURIComponent(c.id)}/reissue`, { method: 'POST' });
    $('registry-status').textContent = t('pub.sent_again', { name: learnerName(c) });
    await Promise.all([loadRegistry(), loadOffers()]);
  } catch (err) {
    if (gateFor(err)) return;
    button.disabled = false;
    $('registry-error').textContent = `${t('pub.registry_error')} ${err.message}`;
  }
}

let registrySeq = 0;

async function loadRegistry() {
  const seq = ++registrySeq;
  $('registry-error').textContent = '';
  $('registry-table').setAttribute('aria-busy', 'true');
  let r;
  try {
    const q = registryQuery().toString();
    r = await api(`/credentials${q ? `?${q}` : ''}`);
  } catch (err) {
    if (seq !== registrySeq) return;
    $('registry-table').removeAttribute('aria-busy');
    if (gateFor(err)) return;
    $('registry-error').textContent = `${t('pub.registry_error')} ${err.message}`;
    return;
  }
  if (seq !== registrySeq) return;
  registry = { items: r.items || [], counts: r.counts || null };
  renderRegistry();
}

async function exportCsv() {
  const btn = $('export-csv');
  btn.disabled = true;
  $('registry-error').textContent = '';
  try {
    const q = registryQuery().toString();
    const text = await api(`/credentials${q ? `?${q}` : ''}`, { accept: 'text/csv' });
    const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
    const a = el('a', { href: url, download: `credentials-${inst}-${new Date().toISOString().slice(0, 10)}.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    $('registry-status').textContent = t('pub.exported');
  } catch (err) {
    if (gateFor(err)) return;
    $('registry-error').textContent = `${t('pub.registry_error')} ${err.message}`;
  } finally {
    btn.disabled = false;
  }
}

function openRevoke(c, button) {
  revoking = { credential: c, button };
  const offer = offersById.get(c.offer_id);
  $('revoke-who').textContent = t('pub.revoke_who', {
    name: learnerName(c), title: offer ? offerTitle(offer) : (c.title || ''),
  });
  $('revoke-reason').value = '';
  $('revoke-reason').removeAttribute('aria-invalid');
  $('revoke-error').textContent = '';
  $('revoke-dialog').showModal();
  $('revoke-reason').focus();
}

function closeRevoke() {
  const d = $('revoke-dialog');
  if (d.open) d.close();
}

async function submitRevoke(e) {
  e.preventDefault();
  if (!revoking) return;
  const reason = $('revoke-reason').value.trim();
  const box = $('revoke-error');
  box.textContent = '';
  // the server counts bytes (2,000): Lithuanian letters take two
  const problem = !reason ? 'pub.revoke_need_reason'
    : new TextEncoder().encode(reason).length > 2000 ? 'pub.revoke_too_long' : '';
  if (problem) {
    box.textContent = t(problem);
    $('revoke-reason').setAttribute('aria-invalid', 'true');
    $('revoke-reason').focus();
    return;
  }
  const btn = $('revoke-confirm');
  btn.disabled = true;
  const c = revoking.credential;
  try {
    await api(`/credentials/${encodeURIComponent(c.id)}/revoke`, { method: 'POST', body: { reason } });
  } catch (err) {
    btn.disabled = false;
    if (err.status === 401) { closeRevoke(); showGate(false); return; }
    box.textContent = err.message;
    return;
  }
  btn.disabled = false;
  revoking = null;
  closeRevoke();
  $('registry-status').textContent = t('pub.revoked_done', { name: learnerName(c) });
  await loadRegistry();
  const row = document.querySelector(`#registry-table tr[data-id="${CSS.escape(c.id)}"]`);
  (row ? row.querySelector('th') : $('registry')).setAttribute('tabindex', '-1');
  (row ? row.querySelector('th') : $('registry')).focus();
  loadOffers();
}

// ---- start -------------------------------------------------------------------------

function renderLead() {
  $('pub-lead').textContent = t('pub.lead', { inst: institutionName(insts.get(inst), inst) });
}

function fillInstSelect() {
  const s = $('inst-select');
  const sorted = [...insts.values()].sort((a, b) =>
    institutionName(a).localeCompare(institutionName(b), lang()));
  s.replaceChildren(...sorted.map((i) => new Option(`${institutionName(i)} (${i.id})`, i.id, false, i.id === inst)));
}

function renderAll() {
  if (gateShown) {
    showGate(gateShown === 'forbidden');
    return;
  }
  renderLead();
  if (admin) fillInstSelect();
  renderOffers();
  fillEqfSelect();
  relabel();
  renderTemplateHints();
  renderTemplateStatus();
  renderUploadReport();
  renderPreview();
  renderSending();
  renderRegistry();
}

function wire() {
  window.addEventListener('hashchange', () => route(true));
  window.addEventListener('popstate', () => route(true));
  $('template-form').addEventListener('submit', saveTemplate);
  $('template-form').addEventListener('input', (e) => e.target.removeAttribute('aria-invalid'));
  $('outcome-add').addEventListener('click', () => addOutcome({}, true));
  $('upload-form').addEventListener('submit', upload);
  for (const r of document.querySelectorAll('#upload-form input[name="mode"]')) {
    r.addEventListener('change', () => {
      const replace = document.querySelector('#upload-form input[name="mode"]:checked').value === 'replace';
      $('replace-confirm-box').hidden = !replace;
      if (!replace) $('replace-confirm').checked = false;
    });
  }
  $('issue-form').addEventListener('submit', runPreview);
  for (const id of ['issue-offer', 'pass-mark', 'csv-file']) {
    $(id).addEventListener('change', () => { if (!batch || !batch.timer) { batch = null; $('sending').hidden = true; resetIssue(); } });
  }
  $('issue-offer').addEventListener('change', () => {
    setParams({ offer: $('issue-offer').value });
    renderIssueOfferState();
  });
  $('issue-btn').addEventListener('click', runImport);
  $('registry-filter').addEventListener('submit', (e) => {
    e.preventDefault();
    syncRegistryAddress();
    loadRegistry();
  });
  for (const id of ['r-offer', 'r-state']) {
    $(id).addEventListener('change', () => { syncRegistryAddress(); loadRegistry(); });
  }
  $('export-csv').addEventListener('click', exportCsv);
  // from the progress to the registry, filtered to the offer just issued
  $('sending-registry').addEventListener('click', () => {
    const offerId = (preview && preview.offerId) || '';
    if (offersById.has(offerId)) $('r-offer').value = offerId;
    $('r-state').value = '';
    $('r-learner').value = '';
    syncRegistryAddress();
  });
  $('default-remove').addEventListener('click', openRemoveDefault);
  $('default-remove-form').addEventListener('submit', removeDefault);
  $('default-remove-cancel').addEventListener('click', closeRemoveDefault);
  $('default-remove-dialog').addEventListener('close', () => {
    const b = $('default-remove');
    if (!b.hidden) b.focus();
  });
  $('revoke-form').addEventListener('submit', submitRevoke);
  $('revoke-cancel').addEventListener('click', closeRevoke);
  $('revoke-dialog').addEventListener('close', () => {
    const b = revoking && revoking.button;
    revoking = null;
    if (b && b.isConnected) b.focus();
  });
  $('inst-select').addEventListener('change', () => {
    location.assign(`/publish?institution=${encodeURIComponent($('inst-select').value)}${location.hash}`);
  });
}

async function start() {
  const s = await initPage();
  if (!s) return showGate(false);
  if (!hasRole(s, 'publisher', 'admin')) return showGate(true);
  user = s.user;
  admin = user.role === 'admin';
  insts = await institutions();
  const p = params();
  if (admin) {
    inst = p.get('institution') || '';
    if (!insts.has(inst)) {
      const first = [...insts.values()].sort((a, b) => a.id.localeCompare(b.id))[0];
      inst = first ? first.id : '';
      if (inst) setParams({ institution: inst });
    }
    $('inst-choice').hidden = false;
    fillInstSelect();
  } else {
    inst = user.institution || '';
  }
  if (!inst) return showGate(true);
  $('r-state').value = STATES.includes(p.get('state')) ? p.get('state') : '';
  $('r-learner').value = p.get('learner') || '';
  wire();
  onLangChange(renderAll);
  renderLead();
  fillEqfSelect();
  // the offers list decides: a 403 here is the server saying "not yours"
  const ok = await loadOffers();
  if (!ok) return;
  $('pub-loading').hidden = true;
  $('app').hidden = false;
  route(false);
}

start();
