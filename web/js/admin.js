// admin.js — the admin page (/admin, issue 11): the partners this node harvests with
// their harvest state and "Harvest now" (/api/v1/partners…), the users with filters,
// new staff accounts, disable/enable and confirming an address (/api/v1/users…), and
// the API tokens (/api/v1/tokens…). docs/admin.md describes it. The server decides who
// may: the page asks GET /api/v1/users first and, on 401 or 403, says who the page is
// for.

import { api, institutions } from './api.js';
import { byId as $, el } from './dom.js';
import { initPage, institutionName, showStaffGate } from './header.js';
import { formatDateTime, formatNumber, lang, onLangChange, t } from './i18n.js';

const POLL_MS = 1000;
const POLL_TRIES = 30; // how long "Harvest now" waits for the run to be recorded

let me = null; // the signed-in admin
let insts = new Map();
let partners = [];
let users = []; // the filtered list
let everyone = []; // every user: the token form's choices
let tokens = [];
let confirming = null; // the token whose revocation waits for a "yes"

function dash() { return el('span', { class: 'muted', text: '—' }); }

function instName(id) {
  return id ? institutionName(insts.get(id), id) : '';
}

function roleName(role) { return t(`admin.role_${role}`); }

// A result in a role=status or role=alert box; `failed` marks a status that reports
// a failure (a harvest that ran but failed) without making it an alert.
function say(id, text, failed = false) {
  $(id).textContent = text;
  $(id).classList.toggle('is-failed', failed);
}

// Focus moves to the control that replaced the one the admin used (the table was
// drawn again), so keyboard users stay where they were.
function refocus(tableId, rowId, selector = 'button') {
  const row = $(tableId).querySelector(`tr[data-id="${CSS.escape(rowId)}"]`);
  const target = row && row.querySelector(selector);
  if (target) target.focus();
}

// ---- the gate: signed out, or not an admin (the API's answer) ----

function showGate(signedIn) {
  showStaffGate('admin', signedIn);
}

// ---- partners ----

// The one word for a partner's health; the row's other cells give the details.
function partnerState(p) {
  const s = p.state || {};
  if (s.running) return 'running';
  if (s.last_error) return 'failing';
  if (s.last_success_at) return 'ok';
  return 'waiting';
}

function isDue(p) {
  const next = p.state && p.state.next_attempt_at;
  return Boolean(next) && new Date(next).getTime() <= Date.now() && !p.state.running;
}

function partnerRow(p) {
  const s = p.state || {};
  const run = p.last_run;
  const state = partnerState(p);
  const stateCell = el('td', {},
    el('span', { class: `pill harvest-${state}`, text: t(`admin.state_${state}`) }));
  if (s.consecutive_failures > 0) {
    stateCell.append(el('span', { class: 'muted small block failures',
      text: t('admin.failures', { n: formatNumber(s.consecutive_failures) }) }));
  }
  const errorCell = el('td', { class: 'error-text' });
  if (s.last_error) {
    errorCell.append(el('span', { class: 'block', text: s.last_error }),
      el('span', { class: 'muted small block', text: formatDateTime(s.last_error_at) }));
  } else {
    errorCell.append(dash());
  }
  const offers = el('td', { class: 'num' }, el('strong', { text: formatNumber(p.offers ?? 0) }));
  if (run) {
    offers.append(el('span', { class: 'muted small block', text: t('admin.last_run', {
      fetched: formatNumber(run.fetched ?? 0), accepted: formatNumber(run.accepted ?? 0),
      unchanged: formatNumber(run.unchanged ?? 0), removed: formatNumber(run.removed ?? 0),
      rejected: formatNumber(run.rejected ?? 0),
    }) }));
  }
  const btn = el('button', {
    type: 'button', class: 'secondary table-button harvest',
    'aria-label': t('admin.harvest_label', { id: p.id }), text: t('admin.harvest'),
  });
  btn.addEventListener('click', () => harvest(p.id, btn));
  return el('tr', { 'data-id': p.id, 'data-state': state, 'data-run': run ? String(run.id) : '' },
    el('th', { scope: 'row' }, el('code', { text: p.id })),
    el('td', { text: p.name || '' }),
    el('td', { text: (p.format || '').toUpperCase() }),
    el('td', { class: 'url', text: p.feed_url }),
    stateCell,
    el('td', {}, s.last_success_at ? formatDateTime(s.last_success_at) : dash()),
    errorCell,
    el('td', { text: isDue(p) ? t('admin.due_now') : formatDateTime(s.next_attempt_at) }),
    offers,
    el('td', {}, btn));
}

function renderPartners() {
  const table = $('partners');
  table.removeAttribute('aria-busy');
  table.querySelector('tbody').replaceChildren(...partners.map(partnerRow));
  $('partners-empty').hidden = partners.length > 0;
}

function putPartner(p) {
  const i = partners.findIndex((x) => x.id === p.id);
  if (i >= 0) partners[i] = p;
  else partners.push(p);
  partners.sort((a, b) => a.id.localeCompare(b.id));
}

async function loadPartners() {
  try {
    partners = (await api('/partners')).items || [];
  } catch (err) {
    $('partners').removeAttribute('aria-busy');
    say('partners-error', err.message);
    return;
  }
  renderPartners();
}

// Polls the partner until a run newer than beforeRun is recorded; null on timeout.
async function waitForRun(id, beforeRun) {
  for (let i = 0; i < POLL_TRIES; i++) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    const p = await api(`/partners/${encodeURIComponent(id)}`);
    putPartner(p);
    if (p.last_run && p.last_run.id !== beforeRun && !(p.state && p.state.running)) return p;
    renderPartners();
  }
  return null;
}

async function harvest(id, btn) {
  say('partners-status', '');
  say('partners-error', '');
  const before = partners.find((x) => x.id === id);
  const beforeRun = before && before.last_run ? before.last_run.id : null;
  btn.disabled = true;
  try {
    putPartner(await api(`/partners/${encodeURIComponent(id)}/harvest`, { method: 'POST' }));
    renderPartners();
    refocus('partners', id);
    say('partners-status', t('admin.harvest_started', { id }));
    const done = await waitForRun(id, beforeRun);
    renderPartners();
    refocus('partners', id);
    if (!done) {
      say('partners-status', t('admin.harvest_pending', { id }));
    } else if (done.last_run.status === 'failed') {
      say('partners-status', t('admin.harvest_failed', { id, error: done.last_run.error || '' }), true);
    } else {
      say('partners-status', t('admin.harvest_done', {
        id, n: formatNumber(done.last_run.fetched ?? 0), accepted: formatNumber(done.last_run.accepted ?? 0),
      }));
    }
  } catch (err) {
    say('partners-error', err.message);
    renderPartners();
  }
}

async function addPartner(e) {
  e.preventDefault();
  const f = $('partner-form');
  const btn = f.querySelector('button[type="submit"]');
  say('partner-form-error', '');
  say('partners-status', '');
  const body = { id: f.elements.id.value.trim().toLowerCase(), feed_url: f.elements.feed_url.value.trim(),
    format: f.elements.format.value };
  const name = f.elements.name.value.trim();
  const country = f.elements.country.value.trim().toUpperCase();
  if (name) body.name = name;
  if (country) body.country = country;
  btn.disabled = true;
  try {
    const p = await api('/partners', { method: 'POST', body });
    putPartner(p);
    renderPartners();
    f.reset();
    say('partners-status', t('admin.partner_added', { id: p.id }));
  } catch (err) {
    say('partner-form-error', err.message); // the server's own validation message
  } finally {
    btn.disabled = false;
  }
}

// ---- users ----

function userRow(u) {
  const action = el('td');
  if (u.id === me.id) {
    action.append(el('span', { class: 'muted', text: t('admin.you') }));
  } else {
    const verb = u.disabled ? 'enable' : 'disable';
    const btn = el('button', {
      type: 'button', class: `secondary table-button ${verb}`,
      'aria-label': t(`admin.${verb}_label`, { email: u.email }), text: t(`admin.${verb}`),
    });
    btn.addEventListener('click', () => setDisabled(u, !u.disabled, btn));
    action.append(btn);
  }
  return el('tr', { 'data-id': u.id, 'data-email': u.email, 'data-disabled': String(u.disabled),
    'data-confirmed': typeof u.email_confirmed === 'boolean' ? String(u.email_confirmed) : undefined },
    el('th', { scope: 'row', class: 'email', text: u.email }),
    el('td', {}, u.display_name ? u.display_name : dash()),
    el('td', { text: roleName(u.role) }),
    el('td', {}, u.institution ? instName(u.institution) : dash()),
    el('td', { class: 'num', text: formatNumber(u.tokens ?? 0) }),
    el('td', { class: 'date', text: formatDateTime(u.created_at) }),
    el('td', {}, el('span', { class: `pill ${u.disabled ? 'user-disabled' : 'user-active'}`,
      text: u.disabled ? t('admin.disabled') : t('admin.active') })),
    addressCell(u),
    action);
}

// Whether the user's e-mail address is confirmed (a self sign-up's is not until its
// link is opened); for one that is not, the button by which the admin vouches for it
// (POST /users/{id}/confirm-email). The pill takes the focus once the button is gone.
function addressCell(u) {
  const cell = el('td', { class: 'address-cell' });
  if (typeof u.email_confirmed !== 'boolean') {
    cell.append(dash());
    return cell;
  }
  cell.append(el('span', {
    class: `pill address-state ${u.email_confirmed ? 'address-confirmed' : 'address-unconfirmed'}`,
    tabindex: '-1', text: u.email_confirmed ? t('admin.confirmed') : t('admin.unconfirmed'),
  }));
  if (!u.email_confirmed) {
    const btn = el('button', {
      type: 'button', class: 'secondary table-button confirm-email',
      'aria-label': t('admin.confirm_email_label', { email: u.email }), text: t('admin.confirm_email'),
    });
    btn.addEventListener('click', () => confirmEmail(u, btn));
    cell.append(btn);
  }
  return cell;
}

function renderUsers() {
  const table = $('users');
  table.removeAttribute('aria-busy');
  table.querySelector('tbody').replaceChildren(...users.map(userRow));
  $('users-empty').hidden = users.length > 0;
}

function userQuery() {
  const f = $('user-filter');
  const q = new URLSearchParams();
  for (const name of ['role', 'institution', 'q']) {
    const v = f.elements[name].value.trim();
    if (v) q.set(name, v);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

// Throws the ApiError on failure: the first call decides whether the page opens.
async function fetchUsers() {
  users = (await api(`/users${userQuery()}`)).items || [];
  renderUsers();
}

let usersSeq = 0;
async function loadUsers() {
  const seq = ++usersSeq;
  say('users-error', '');
  $('users').setAttribute('aria-busy', 'true');
  try {
    const items = (await api(`/users${userQuery()}`)).items || [];
    if (seq !== usersSeq) return; // a newer filter answered first
    users = items;
    renderUsers();
  } catch (err) {
    $('users').removeAttribute('aria-busy');
    say('users-error', err.message);
  }
}

async function loadEveryone() {
  try {
    everyone = (await api('/users')).items || [];
  } catch {
    everyone = [me];
  }
  fillTokenUsers();
}

function replaceUser(u) {
  users = users.map((x) => (x.id === u.id ? u : x));
  everyone = everyone.map((x) => (x.id === u.id ? u : x));
}

async function setDisabled(u, disable, btn) {
  say('users-status', '');
  say('users-error', '');
  btn.disabled = true;
  try {
    const done = await api(`/users/${encodeURIComponent(u.id)}/${disable ? 'disable' : 'enable'}`,
      { method: 'POST' });
    replaceUser(done);
    renderUsers();
    refocus('users', done.id);
    say('users-status', t(disable ? 'admin.disabled_done' : 'admin.enabled_done', { email: done.email }));
  } catch (err) {
    btn.disabled = false;
    say('users-error', err.message);
  }
}

async function confirmEmail(u, btn) {
  say('users-status', '');
  say('users-error', '');
  btn.disabled = true;
  try {
    const done = await api(`/users/${encodeURIComponent(u.id)}/confirm-email`, { method: 'POST' });
    replaceUser(done);
    renderUsers();
    refocus('users', done.id, '.address-state');
    say('users-status', t('admin.confirmed_done', { email: done.email }));
  } catch (err) {
    btn.disabled = false;
    say('users-error', err.message);
  }
}

function fillInstitutionSelects() {
  const sorted = [...insts.values()].sort((a, b) =>
    institutionName(a).localeCompare(institutionName(b), lang()));
  for (const [id, first] of [['f-inst', 'admin.any'], ['u-inst', 'admin.none']]) {
    const select = $(id);
    const value = select.value;
    select.replaceChildren(new Option(t(first), ''),
      ...sorted.map((i) => new Option(`${institutionName(i)} (${i.id})`, i.id)));
    select.value = value;
  }
}

// The generated password, once, in a box that says what it is.
function showSecret(boxId, label, secret, hint) {
  const code = el('code', { class: 'secret', id: `${boxId}-value`, text: secret });
  const copy = el('button', { type: 'button', class: 'secondary table-button copy', text: t('admin.copy') });
  const copied = el('span', { class: 'copied', role: 'status' });
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(secret);
      copied.textContent = t('admin.copied');
    } catch {
      const range = document.createRange();
      range.selectNodeContents(code);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      copied.textContent = t('admin.copy_select');
    }
  });
  $(boxId).replaceChildren(
    el('p', { class: 'secret-label', id: `${boxId}-label`, text: label }),
    el('div', { class: 'secret-row' }, code, copy, copied),
    el('p', { class: 'hint small', text: hint }));
}

async function addUser(e) {
  e.preventDefault();
  const f = $('user-form');
  const btn = f.querySelector('button[type="submit"]');
  say('user-form-error', '');
  $('new-password').replaceChildren();
  const body = { email: f.elements.email.value.trim(), role: f.elements.role.value };
  if (f.elements.institution.value) body.institution = f.elements.institution.value;
  if (f.elements.name.value.trim()) body.name = f.elements.name.value.trim();
  btn.disabled = true;
  try {
    const done = await api('/users', { method: 'POST', body });
    f.reset();
    showSecret('new-password', t('admin.password_for', { email: done.user.email }), done.password,
      t('admin.password_once'));
    await Promise.all([loadUsers(), loadEveryone()]);
  } catch (err) {
    say('user-form-error', err.message);
  } finally {
    btn.disabled = false;
  }
}

// ---- tokens ----

function fillTokenUsers() {
  const select = $('t-user');
  const value = select.value || me.id;
  const live = everyone.filter((u) => !u.disabled);
  if (!live.some((u) => u.id === me.id)) live.unshift(me);
  select.replaceChildren(...live.map((u) =>
    new Option(`${u.email} (${roleName(u.role)})`, u.id)));
  select.value = live.some((u) => u.id === value) ? value : me.id;
}

function tokenRow(tk) {
  const action = el('td', { class: 'token-action' });
  if (!tk.revoked_at) {
    if (confirming === tk.id) {
      const yes = el('button', { type: 'button', class: 'primary table-button danger confirm',
        text: t('admin.revoke_yes') });
      const no = el('button', { type: 'button', class: 'secondary table-button cancel', text: t('admin.cancel') });
      yes.addEventListener('click', () => revoke(tk, yes));
      no.addEventListener('click', () => {
        confirming = null;
        renderTokens();
        refocus('tokens', tk.id);
      });
      action.append(el('span', { class: 'confirm-question', text: t('admin.revoke_q', { name: tk.name || tk.id.slice(0, 8) }) }),
        el('span', { class: 'confirm-buttons' }, yes, no));
    } else {
      const btn = el('button', { type: 'button', class: 'secondary table-button revoke',
        'aria-label': t('admin.revoke_label', { name: tk.name || tk.id, email: tk.user.email }),
        text: t('admin.revoke') });
      btn.addEventListener('click', () => {
        confirming = tk.id;
        renderTokens();
        refocus('tokens', tk.id, 'button.confirm');
      });
      action.append(btn);
    }
  } else {
    action.append(dash());
  }
  return el('tr', { 'data-id': tk.id, 'data-revoked': String(Boolean(tk.revoked_at)) },
    el('th', { scope: 'row' }, tk.name ? tk.name : el('span', { class: 'muted', text: t('admin.no_label') })),
    el('td', { class: 'email', text: tk.user.email }),
    el('td', { class: 'date', text: formatDateTime(tk.created_at) }),
    el('td', { class: 'date' }, tk.last_used_at ? formatDateTime(tk.last_used_at) : dash()),
    el('td', {}, el('span', { class: `pill ${tk.revoked_at ? 'token-revoked' : 'token-live'}`,
      text: tk.revoked_at ? t('admin.revoked_at', { d: formatDateTime(tk.revoked_at) }) : t('admin.live') })),
    action);
}

function renderTokens() {
  const table = $('tokens');
  table.removeAttribute('aria-busy');
  table.querySelector('tbody').replaceChildren(...tokens.map(tokenRow));
  $('tokens-empty').hidden = tokens.length > 0;
}

async function loadTokens() {
  try {
    tokens = (await api('/tokens')).items || [];
  } catch (err) {
    $('tokens').removeAttribute('aria-busy');
    say('tokens-error', err.message);
    return;
  }
  renderTokens();
}

async function revoke(tk, btn) {
  say('tokens-status', '');
  say('tokens-error', '');
  btn.disabled = true;
  try {
    await api(`/tokens/${encodeURIComponent(tk.id)}`, { method: 'DELETE' });
    confirming = null;
    await loadTokens();
    say('tokens-status', t('admin.revoked_done', { name: tk.name || tk.id }));
    $('tokens-heading').focus();
    loadUsers(); // the live-token counts
  } catch (err) {
    btn.disabled = false;
    say('tokens-error', err.message);
  }
}

async function addToken(e) {
  e.preventDefault();
  const f = $('token-form');
  const btn = f.querySelector('button[type="submit"]');
  say('token-form-error', '');
  say('tokens-status', '');
  $('new-token').replaceChildren();
  const body = { user: f.elements.user.value };
  if (f.elements.name.value.trim()) body.name = f.elements.name.value.trim();
  btn.disabled = true;
  try {
    const done = await api('/tokens', { method: 'POST', body });
    f.elements.name.value = '';
    showSecret('new-token', t('admin.token_for', { email: done.user.email }), done.token,
      t('admin.token_once'));
    await loadTokens();
    loadUsers();
  } catch (err) {
    say('token-form-error', err.message);
  } finally {
    btn.disabled = false;
  }
}

// ---- start ----

function renderAll() {
  fillInstitutionSelects();
  fillTokenUsers();
  renderPartners();
  renderUsers();
  renderTokens();
}

function debounce(fn, ms) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

async function start() {
  const s = await initPage();
  if (!s) return showGate(false);
  me = s.user;
  // The server decides who is an admin: its 401/403 on the user list closes the page.
  try {
    await fetchUsers();
  } catch (err) {
    if (err.status === 401) return showGate(false);
    if (err.status === 403) return showGate(true);
    say('users-error', err.message);
  }
  $('admin-loading').hidden = true;
  $('app').hidden = false;
  insts = await institutions();
  fillInstitutionSelects();
  onLangChange(renderAll);
  $('partner-form').addEventListener('submit', addPartner);
  $('user-form').addEventListener('submit', addUser);
  $('token-form').addEventListener('submit', addToken);
  const filter = $('user-filter');
  filter.addEventListener('submit', (e) => { e.preventDefault(); loadUsers(); });
  filter.addEventListener('change', loadUsers);
  $('f-q').addEventListener('input', debounce(loadUsers, 250));
  await Promise.all([loadPartners(), loadTokens(), loadEveryone()]);
}

start();
