// catalogue.js — the course search page (/). The address's query string is the
// whole state: q, every filter and sort. Typing replaces the history entry, a
// filter or sort change pushes one, and popstate restores it, so a search can be
// bookmarked and shared and the back button works. docs/search.md has the API.

import { api } from './api.js';
import {
  homeId, initHomeSelect, initPage, institutionName, providerName, renderRecognition,
} from './header.js';
import {
  countryName, formatDate, formatNumber, iscedName, lang, languageName, modeName,
  onLangChange, pick, plural, t,
} from './i18n.js';

const PAGE_SIZE = 20;
const DEBOUNCE_MS = 250;
const MULTI = ['eqf', 'ects', 'language', 'isced', 'mode', 'institution'];
const LIST_PARAMS = ['eqf', 'language', 'isced', 'mode', 'institution'];
// Values the API accepts (docs/openapi.yaml); anything else in a link is dropped
// rather than turning the whole page into an error.
const VALID = {
  eqf: /^[1-8]$/,
  language: /^[a-z]{2,3}$/,
  isced: /^[0-9]{2,4}$/,
  mode: /^(online|blended|onsite)$/,
  institution: /^[a-z0-9.-]{1,127}$/,
  ects: /^\d{1,4}(\.\d{1,2})?$/,
  date: /^\d{4}-\d{2}-\d{2}$/,
  sort: /^(relevance|start|ects|title)$/,
};
const MODES = ['online', 'blended', 'onsite'];

// The ECTS facet counts bands whose lower bound is included and upper bound is not
// ("3-6" is 3 ≤ ECTS < 6). The API's ects_max is inclusive, so a band asks for
// ects_max = upper − 0.01 (ECTS values have at most two decimals in practice).
const BANDS = [
  { key: '0-3', min: 0, max: 3 },
  { key: '3-6', min: 3, max: 6 },
  { key: '6-10', min: 6, max: 10 },
  { key: '10+', min: 10, max: null },
];

const $ = (id) => document.getElementById(id);
const els = {
  form: $('search-form'), q: $('q'), facets: $('facets'), sort: $('sort'), total: $('total'),
  results: $('results'), skeleton: $('skeleton'), moreRow: $('more-row'), chips: $('chips'),
  chipsRow: $('chips-row'), clearAll: $('clear-all'), error: $('search-error'),
  after: $('starts_after'), before: $('starts_before'), home: $('home-institution'),
  toggle: $('filters-toggle'), filters: $('filters'), filtersClose: $('filters-close'),
  filtersCount: $('filters-count'),
};

let state = readState();
let insts = new Map();
let lastPage = null; // the newest first-page answer (facets, total)
let shown = new Map(); // offer id → offer, in the list now
let nextCursor = null;
let controller = null;
let debounceTimer = 0;
const moreButton = makeMoreButton();

// ---- state <-> address ---------------------------------------------------------

function readState() {
  const p = new URLSearchParams(location.search);
  const all = (name, re) => [...new Set(p.getAll(name).flatMap((v) => v.split(',')))]
    .map((v) => v.trim()).filter((v) => re.test(v));
  const one = (name, re) => { const v = (p.get(name) || '').trim(); return re.test(v) ? v : ''; };
  const s = { q: (p.get('q') || '').slice(0, 200) };
  for (const name of LIST_PARAMS) s[name] = all(name, VALID[name]);
  s.ects_min = one('ects_min', VALID.ects);
  s.ects_max = one('ects_max', VALID.ects);
  if (s.ects_min && s.ects_max && Number(s.ects_min) > Number(s.ects_max)) s.ects_max = '';
  s.starts_after = one('starts_after', VALID.date);
  s.starts_before = one('starts_before', VALID.date);
  s.sort = one('sort', VALID.sort);
  s.ui = p.get('ui') || '';
  return s;
}

// The API's parameters for a state, in a fixed order (so equal states give equal
// URLs and the browser's cache and the ETag can do their job).
function toParams(s, withUi) {
  const p = new URLSearchParams();
  if (s.q.trim()) p.set('q', s.q.trim());
  for (const name of LIST_PARAMS) for (const v of s[name]) p.append(name, v);
  for (const name of ['ects_min', 'ects_max', 'starts_after', 'starts_before', 'sort']) {
    if (s[name]) p.set(name, s[name]);
  }
  if (withUi && s.ui) p.set('ui', s.ui);
  return p;
}

function writeUrl(push) {
  const qs = toParams(state, true).toString();
  const url = qs ? `/?${qs}` : '/';
  if (url === location.pathname + location.search) return;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
  rememberSearch();
}

// The offer page's "Back to results" link falls back to this when it cannot go back.
function rememberSearch() {
  try { sessionStorage.setItem('mcx.search', location.pathname + location.search); } catch { /* ok */ }
}

function filterCount(s) {
  return LIST_PARAMS.reduce((n, name) => n + s[name].length, 0)
    + (s.ects_min || s.ects_max ? 1 : 0) + (s.starts_after ? 1 : 0) + (s.starts_before ? 1 : 0);
}

// ---- ECTS bands ------------------------------------------------------------------

function bandRange(b) {
  return { min: b.min ? String(b.min) : '', max: b.max === null ? '' : String(+(b.max - 0.01).toFixed(2)) };
}

// A band includes its lower bound, not its upper one (2.5 ECTS is in "under 3").
function bandLabel(b) {
  if (b.max === null) return t('ects.band_open', { a: formatNumber(b.min) });
  if (!b.min) return t('ects.band_below', { b: formatNumber(b.max) });
  return t('ects.band', { a: formatNumber(b.min), b: formatNumber(b.max) });
}

// The bands that the state's ECTS bounds cover exactly (indexes into BANDS), or
// null when the bounds are not band edges (a hand-written link: one chip then).
function selectedBands(s) {
  if (!s.ects_min && !s.ects_max) return [];
  const lo = BANDS.findIndex((b) => bandRange(b).min === (s.ects_min === '0' ? '' : s.ects_min));
  const hi = BANDS.findIndex((b) => bandRange(b).max === s.ects_max);
  if (lo < 0 || hi < 0 || lo > hi) return null;
  return BANDS.map((b, i) => i).filter((i) => i >= lo && i <= hi);
}

// Toggling a band keeps the selection one unbroken range (the API has one min and
// one max): checking extends it, unchecking a middle band keeps the part below it.
function toggleBand(index, on) {
  let sel = selectedBands(state) || [];
  if (on) {
    sel = [...sel, index];
    const lo = Math.min(...sel), hi = Math.max(...sel);
    sel = BANDS.map((b, i) => i).filter((i) => i >= lo && i <= hi);
  } else if (sel.length && index === sel[0]) {
    sel = sel.slice(1);
  } else {
    sel = sel.filter((i) => i < index);
  }
  setBands(sel);
}

function setBands(sel) {
  if (!sel.length) {
    state.ects_min = state.ects_max = '';
    return;
  }
  state.ects_min = bandRange(BANDS[sel[0]]).min;
  state.ects_max = bandRange(BANDS[sel[sel.length - 1]]).max;
}

// ---- facet labels ----------------------------------------------------------------

function valueLabel(facet, key) {
  switch (facet) {
    case 'eqf': return t('eqf', { n: key });
    case 'language': return languageName(key);
    case 'isced': return iscedName(key);
    case 'mode': return modeName(key);
    case 'institution': return institutionName(insts.get(key), key);
    case 'ects': return bandLabel(BANDS.find((b) => b.key === key) || { min: key, max: null });
    default: return key;
  }
}

function ectsChipLabel(s) {
  if (s.ects_min && s.ects_max) return t('ects.band', { a: s.ects_min, b: s.ects_max });
  if (s.ects_min) return t('ects.min', { a: s.ects_min });
  return t('ects.max', { b: s.ects_max });
}

function orderedKeys(facet, counts, selected) {
  const keys = [...new Set([...Object.keys(counts), ...selected])];
  const byName = (a, b) => valueLabel(facet, a).localeCompare(valueLabel(facet, b), lang());
  switch (facet) {
    case 'eqf': return keys.sort((a, b) => a - b);
    case 'isced': return keys.sort();
    case 'mode': return keys.sort((a, b) => MODES.indexOf(a) - MODES.indexOf(b));
    case 'ects': return BANDS.map((b) => b.key).filter((k) => keys.includes(k));
    case 'language': return keys.sort((a, b) => (counts[b] || 0) - (counts[a] || 0) || byName(a, b));
    default: return keys.sort(byName);
  }
}

// ---- rendering -------------------------------------------------------------------

function renderFacets(facets) {
  const active = document.activeElement;
  const focusKey = active && active.type === 'checkbox' ? active.id : null;
  const bands = selectedBands(state) || [];
  for (const fs of els.facets.querySelectorAll('fieldset[data-facet]')) {
    const facet = fs.dataset.facet;
    const counts = (facets && facets[facet]) || {};
    const selected = facet === 'ects' ? bands.map((i) => BANDS[i].key) : state[facet];
    const box = fs.querySelector('.options');
    const keys = orderedKeys(facet, counts, selected);
    if (!keys.length) {
      const p = document.createElement('p');
      p.className = 'muted small';
      p.textContent = t('facet.none');
      box.replaceChildren(p);
      continue;
    }
    box.replaceChildren(...keys.map((key) => {
      const id = `f-${facet}-${key}`;
      const label = document.createElement('label');
      label.className = 'opt';
      label.htmlFor = id;
      const input = document.createElement('input');
      input.type = 'checkbox';
      input.id = id;
      input.name = facet;
      input.value = key;
      input.checked = selected.includes(key);
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = valueLabel(facet, key);
      const count = document.createElement('span');
      count.className = 'count';
      count.textContent = formatNumber(counts[key] || 0);
      label.append(input, name, ' ', count);
      return label;
    }));
  }
  els.facets.classList.remove('pending');
  if (focusKey) document.getElementById(focusKey)?.focus();
}

function chip(label, remove) {
  const li = document.createElement('li');
  const btn = document.createElement('button');
  btn.type = 'button';
  btn.className = 'chip';
  const hidden = document.createElement('span');
  hidden.className = 'visually-hidden';
  hidden.textContent = t('chip.remove');
  const x = document.createElement('span');
  x.className = 'chip-x';
  x.setAttribute('aria-hidden', 'true');
  x.textContent = '×';
  btn.append(hidden, label, x);
  btn.addEventListener('click', () => {
    const index = [...els.chips.children].indexOf(li);
    remove();
    commit(true);
    // Keep keyboard focus in the chip list (on the search box once it is empty).
    const buttons = els.chips.querySelectorAll('button');
    (buttons[Math.min(index, buttons.length - 1)] || els.q).focus();
  });
  li.append(btn);
  return li;
}

function renderChips() {
  const items = [];
  for (const name of LIST_PARAMS) {
    for (const v of state[name]) {
      items.push(chip(valueLabel(name, v), () => {
        state[name] = state[name].filter((x) => x !== v);
      }));
    }
  }
  const bands = selectedBands(state);
  if (bands === null) {
    items.push(chip(ectsChipLabel(state), () => { state.ects_min = state.ects_max = ''; }));
  } else {
    for (const i of bands) {
      items.push(chip(bandLabel(BANDS[i]), () => toggleBand(i, false)));
    }
  }
  if (state.starts_after) {
    items.push(chip(t('chip.after', { d: formatDate(state.starts_after) }), () => { state.starts_after = ''; }));
  }
  if (state.starts_before) {
    items.push(chip(t('chip.before', { d: formatDate(state.starts_before) }), () => { state.starts_before = ''; }));
  }
  els.chips.replaceChildren(...items);
  els.chipsRow.hidden = items.length === 0;
  const n = filterCount(state);
  els.filtersCount.hidden = n === 0;
  els.filtersCount.textContent = String(n);
}

function renderTotal(total) {
  if (total === 0) {
    const strong = document.createElement('strong');
    strong.textContent = t('total.none');
    els.total.replaceChildren(strong, ' ', t(filterCount(state) ? 'total.none_filters' : 'total.none_hint'));
  } else {
    els.total.textContent = plural('total', total);
  }
}

function factsList(offer) {
  const ul = document.createElement('ul');
  ul.className = 'facts';
  const add = (text, cls) => {
    if (!text) return;
    const li = document.createElement('li');
    li.textContent = text;
    if (cls) li.className = cls;
    ul.append(li);
  };
  if (typeof offer.ects === 'number') add(t('card.ects', { n: formatNumber(offer.ects) }), 'fact-strong');
  if (offer.eqf) add(t('eqf', { n: offer.eqf }));
  add(modeName(offer.mode));
  add((offer.languages || []).map(languageName).join(', '));
  if (offer.starts) add(t('card.starts', { d: formatDate(offer.starts) }));
  return ul;
}

function snippet(text, max = 200) {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  return `${cut.slice(0, Math.max(cut.lastIndexOf(' '), max - 20))}…`;
}

function card(offer) {
  const li = document.createElement('li');
  li.dataset.id = offer.id;
  const art = document.createElement('article');
  art.className = 'card';
  const h2 = document.createElement('h2');
  const a = document.createElement('a');
  a.href = `/offers/${encodeURIComponent(offer.id)}`;
  const title = pick(offer.title);
  a.textContent = title.text || offer.external_id || offer.id;
  if (title.lang && title.lang !== lang()) a.lang = title.lang;
  h2.append(a);
  const provider = document.createElement('p');
  provider.className = 'provider';
  const inst = offer.institution || {};
  provider.textContent = [providerName(offer, insts), countryName(inst.country)].filter(Boolean).join(' · ');
  const desc = pick(offer.description);
  art.append(h2, provider, factsList(offer));
  if (desc.text) {
    const p = document.createElement('p');
    p.className = 'desc';
    p.textContent = snippet(desc.text);
    if (desc.lang !== lang()) p.lang = desc.lang;
    art.append(p);
  }
  const rec = document.createElement('p');
  rec.className = 'recognition';
  renderRecognition(rec, offer, insts);
  art.append(rec);
  li.append(art);
  return li;
}

function renderResults(items, append) {
  if (!append) {
    shown = new Map();
    els.results.replaceChildren();
  }
  const fresh = items.filter((o) => !shown.has(o.id));
  for (const o of fresh) shown.set(o.id, o);
  els.results.append(...fresh.map(card));
  els.skeleton.hidden = true;
  return fresh;
}

function renderMore() {
  if (nextCursor) {
    moreButton.disabled = false;
    moreButton.textContent = t('more');
    if (!moreButton.isConnected) els.moreRow.append(moreButton);
  } else {
    moreButton.remove();
  }
}

function makeMoreButton() {
  const b = document.createElement('button');
  b.type = 'button';
  b.id = 'more';
  b.className = 'secondary wide';
  b.textContent = t('more');
  b.addEventListener('click', loadMore);
  return b;
}

function showError(err) {
  els.error.textContent = err ? err.message : '';
  els.error.hidden = !err;
}

function syncControls() {
  if (els.q.value !== state.q) els.q.value = state.q;
  els.sort.value = state.sort || (state.q.trim() ? 'relevance' : 'start');
  els.after.value = state.starts_after;
  els.before.value = state.starts_before;
}

function renderAll() {
  syncControls();
  renderChips();
  if (!lastPage) return;
  renderFacets(lastPage.facets);
  renderTotal(lastPage.total);
  renderResults([...shown.values()], false);
  renderMore();
}

// ---- fetching --------------------------------------------------------------------

function apiQuery(cursor) {
  const p = toParams(state, false);
  p.set('lang', lang());
  // what each offer gives at the student's home university (its "recognition")
  if (homeId()) p.set('home', homeId());
  p.set('limit', String(PAGE_SIZE));
  if (cursor) p.set('cursor', cursor);
  return `/offers?${p}`;
}

async function search() {
  if (controller) controller.abort();
  controller = new AbortController();
  const { signal } = controller;
  els.results.setAttribute('aria-busy', 'true');
  els.results.classList.add('is-loading');
  try {
    const page = await api(apiQuery(null), { signal });
    lastPage = page;
    nextCursor = page.next_cursor;
    showError(null);
    renderFacets(page.facets);
    renderTotal(page.total);
    renderResults(page.items, false);
    renderMore();
  } catch (err) {
    if (err.name === 'AbortError') return;
    showError(err);
    els.skeleton.hidden = true;
    els.total.textContent = '';
  } finally {
    if (!signal.aborted) {
      els.results.setAttribute('aria-busy', 'false');
      els.results.classList.remove('is-loading');
    }
  }
}

async function loadMore() {
  if (!nextCursor || moreButton.disabled) return;
  moreButton.disabled = true;
  moreButton.textContent = t('more.loading');
  const signal = controller ? controller.signal : undefined;
  try {
    const page = await api(apiQuery(nextCursor), { signal });
    nextCursor = page.next_cursor;
    const fresh = renderResults(page.items, true);
    renderMore();
    // Keyboard users land on the first new course rather than at the list's end.
    if (fresh.length && document.activeElement === moreButton) {
      els.results.querySelector(`li[data-id="${CSS.escape(fresh[0].id)}"] a`)?.focus();
    }
  } catch (err) {
    if (err.name === 'AbortError') return;
    showError(err);
    renderMore();
  }
}

// Applies the state: address, chips and controls at once, results when they come.
function commit(push) {
  clearTimeout(debounceTimer);
  writeUrl(push);
  syncControls();
  renderChips();
  if (lastPage) renderFacets(lastPage.facets);
  search();
}

// ---- events ----------------------------------------------------------------------

els.q.addEventListener('input', () => {
  clearTimeout(debounceTimer);
  debounceTimer = setTimeout(() => {
    if (state.q === els.q.value) return;
    state.q = els.q.value;
    commit(false);
  }, DEBOUNCE_MS);
});

els.form.addEventListener('submit', (e) => {
  e.preventDefault();
  state.q = els.q.value;
  commit(false);
});

els.facets.addEventListener('submit', (e) => e.preventDefault());

els.facets.addEventListener('change', (e) => {
  const input = e.target;
  if (input.type === 'checkbox') {
    const facet = input.name;
    if (facet === 'ects') {
      toggleBand(BANDS.findIndex((b) => b.key === input.value), input.checked);
    } else if (MULTI.includes(facet)) {
      const rest = state[facet].filter((v) => v !== input.value);
      state[facet] = input.checked ? [...rest, input.value] : rest;
    }
    commit(true);
  } else if (input.type === 'date') {
    const v = VALID.date.test(input.value) ? input.value : '';
    if (state[input.name] === v) return;
    state[input.name] = v;
    commit(true);
  }
});

els.sort.addEventListener('change', () => {
  state.sort = els.sort.value;
  commit(true);
});

els.clearAll.addEventListener('click', () => {
  for (const name of LIST_PARAMS) state[name] = [];
  state.ects_min = state.ects_max = state.starts_after = state.starts_before = '';
  commit(true);
  els.q.focus();
});

function setFiltersOpen(open) {
  els.toggle.setAttribute('aria-expanded', String(open));
  els.filters.classList.toggle('open', open);
}

els.toggle.addEventListener('click', () => {
  const open = els.toggle.getAttribute('aria-expanded') !== 'true';
  setFiltersOpen(open);
  if (open) els.filters.querySelector('input')?.focus();
});

els.filtersClose.addEventListener('click', () => {
  setFiltersOpen(false);
  els.toggle.focus();
});

window.addEventListener('popstate', () => {
  state = readState();
  rememberSearch();
  commitFromHistory();
});

function commitFromHistory() {
  clearTimeout(debounceTimer);
  syncControls();
  renderChips();
  if (lastPage) renderFacets(lastPage.facets);
  search();
}

onLangChange((l) => {
  if (state.ui) state.ui = l; // setLang already rewrote ?ui= in the address
  renderAll();
  search();
});

// ---- start -----------------------------------------------------------------------

syncControls();
renderChips();
rememberSearch();
search();
const user = initPage();
// Another home university: the results are asked again, with what each gives there.
insts = await initHomeSelect(els.home, () => search(), (await user)?.user);
// Names of institutions (facets, chips, cards) now that they are known.
renderAll();
