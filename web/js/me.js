// me.js — "My applications" (/me): the courses the signed-in student applied to,
// newest first, each linked to its offer page; the credentials issued to their
// address (GET /api/v1/me/credentials: check it, open it in Europass, download the
// file mcx sealed); and the student's recognition requests (GET
// /api/v1/recognition-requests: proposal, then the registrar's decision) with the
// form that sends one (POST: one of their credentials, or a file as read here).
// The credentials are shown only once the address is confirmed (a sign-up does not
// prove it): until then the section offers the mail whose link confirms it (POST
// /api/v1/me/email-confirmation; the link leads to /confirm, confirm.js). Right after
// a sign-up the panel says once what became of the mail the sign-up sent (account.js
// leaves it in sessionStorage).

import { api, institutions } from './api.js';
import { el } from './dom.js';
import { initPage, institutionName, providerName } from './header.js';
import { countryName, formatDate, lang, onLangChange, pick, t } from './i18n.js';

const box = document.getElementById('apps');
let view = { kind: 'loading' };
let insts = new Map();

function item(app) {
  const o = app.offer || {};
  const title = pick(o.title);
  const inst = o.institution || {};
  const provider = [providerName(o, insts), countryName(inst.country)]
    .filter(Boolean).join(' · ');
  const heading = o.deleted
    ? el('h2', { text: title.text || o.external_id })
    : el('h2', {}, el('a', {
      href: `/offers/${encodeURIComponent(o.id)}`,
      text: title.text || o.external_id,
      lang: title.lang && title.lang !== lang() ? title.lang : undefined,
    }));
  return el('li', {}, el('article', { class: 'card' },
    heading,
    el('p', { class: 'meta', text: provider }),
    el('p', { class: 'meta', text: t('me.applied', { d: formatDate(app.applied_at) }) }),
    o.deleted ? el('p', { class: 'meta', text: t('me.withdrawn') }) : null));
}

function render() {
  box.classList.remove('loading-block');
  box.setAttribute('aria-busy', 'false');
  switch (view.kind) {
    case 'signed_out':
      box.replaceChildren(el('div', { class: 'panel state-box' },
        el('p', { text: t('me.signed_out') }),
        el('a', { class: 'button', href: '/login?next=/me', text: t('me.login') })));
      break;
    case 'error':
      box.replaceChildren(el('div', { role: 'alert', class: 'alert', text: view.message }));
      break;
    case 'list': {
      const who = view.user.name || view.user.email;
      const intro = el('p', { class: 'muted', text: t('me.signed_in_as', { who }) });
      if (!view.items.length) {
        box.replaceChildren(intro, el('div', { class: 'panel state-box' },
          el('p', { text: t('me.empty') }),
          el('a', { class: 'button', href: '/', text: t('me.find') })));
      } else {
        box.replaceChildren(intro, el('ol', { class: 'apps' }, ...view.items.map(item)));
      }
      break;
    }
    default:
      break;
  }
}

// ---- credentials ----

const credBox = document.getElementById('credentials');
let credentials = [];
let canAsk = false; // students may ask for recognition of a credential

function credentialItem(c) {
  const inst = c.institution || {};
  const issuer = pick(inst.name).text || institutionName(insts.get(inst.id), inst.id);
  const when = c.state === 'revoked' ? t('me.cred_revoked', { d: formatDate(c.revoked_at) })
    : c.state === 'delivered' ? t('me.cred_issued', { d: formatDate(c.issued_at) })
      : t('me.cred_pending');
  const hint = `cred-hint-${c.id}`;
  const links = [
    c.verify_url ? el('a', { href: c.verify_url, text: t('me.cred_verify') }) : null,
    c.viewer_url && c.state === 'delivered'
      ? el('a', { href: c.viewer_url, rel: 'noopener', text: t('me.cred_europass') }) : null,
    c.download_url ? el('a', {
      href: c.download_url, download: `credential-${c.id}.json`, 'aria-describedby': hint,
      text: t('me.cred_download'),
    }) : null,
  ].filter(Boolean);
  return el('li', { 'data-id': c.id, 'data-state': c.state }, el('article', { class: 'card' },
    el('h3', { text: c.title }),
    el('p', { class: 'meta', text: issuer }),
    el('p', { class: 'meta' },
      el('span', { class: `pill cred-state-${c.state}`, text: t(`cred_state.${c.state}`) }),
      ` ${when}`),
    c.result && c.result.grade ? el('p', { class: 'meta', text: t('me.cred_grade', { g: c.result.grade }) }) : null,
    links.length ? el('ul', { class: 'cred-links' }, ...links.map((a) => el('li', {}, a))) : null,
    c.download_url ? el('p', { class: 'hint', id: hint, text: t('me.cred_download_hint') }) : null,
    canAsk && c.state === 'delivered' ? el('p', { class: 'cred-ask' }, askButton(c)) : null));
}

// "Ask for recognition": the form below, with this credential chosen.
function askButton(c) {
  const b = el('button', { type: 'button', class: 'secondary', text: t('me.cred_recognise') });
  b.addEventListener('click', () => {
    const select = document.getElementById('rec-source');
    select.value = c.id;
    sourceChanged();
    document.getElementById('rec-target').focus();
    document.getElementById('rec-form').scrollIntoView({ block: 'start' });
  });
  return b;
}

// Until the address is confirmed the server lists no credential: the panel that
// sends the confirmation mail stands in for the list, and says what the last
// sending gave (confirmNote: {kind: 'sent', to} or {kind: 'error', code, message}).
let me = null;
let emailConfirmed = true;
let confirmNote = null;
let confirmBusy = false;

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text; // a live region speaks on change only
}

// What the sign-up's reply said of its mail (confirmation_mail: "sent", "failed" or
// "unavailable"), taken from sessionStorage once: shown above the button until the
// page is left or the person sends a mail themselves.
const SIGNUP_KEY = 'mcx.signup.confirmation';
let signupNote = null;

function takeSignupNote() {
  try {
    const v = sessionStorage.getItem(SIGNUP_KEY);
    sessionStorage.removeItem(SIGNUP_KEY);
    return ['sent', 'failed', 'unavailable'].includes(v) ? v : null;
  } catch {
    return null;
  }
}

function renderSignupNote() {
  const p = document.getElementById('email-confirm-signup');
  let text = '';
  if (signupNote === 'sent') text = t('me.confirm_signup_sent', { email: (me && me.email) || '' });
  else if (signupNote === 'failed') text = t('me.confirm_signup_failed');
  else if (signupNote === 'unavailable') text = t('me.confirm_unavailable');
  setText(p, text);
  p.hidden = !text;
  p.className = text ? `signup-note is-${signupNote}` : 'signup-note';
}

function renderConfirmNote() {
  renderSignupNote();
  const n = confirmNote;
  setText(document.getElementById('email-confirm-done'),
    n && n.kind === 'sent' ? t('me.confirm_sent', { email: n.to }) : '');
  let error = '';
  if (n && n.kind === 'error') {
    if (n.code === 'mail_unavailable') error = t('me.confirm_unavailable');
    else if (n.code === 'too_many_requests') error = t('me.confirm_wait');
    else error = n.message;
  }
  setText(document.getElementById('email-confirm-error'), error);
}

function renderCredentials() {
  document.getElementById('my-credentials').replaceChildren(...credentials.map(credentialItem));
  document.getElementById('credentials-empty').hidden = credentials.length > 0 || !emailConfirmed;
  document.getElementById('email-confirm').hidden = emailConfirmed;
  if (!emailConfirmed) {
    setText(document.getElementById('email-confirm-text'),
      t('me.confirm_text', { email: (me && me.email) || '' }));
  }
  renderConfirmNote();
}

async function loadCredentials() {
  const err = document.getElementById('credentials-error');
  try {
    const r = await api('/me/credentials');
    credentials = r.items || [];
    emailConfirmed = r.email_confirmed !== false;
    setText(err, '');
  } catch (x) {
    setText(err, x.message);
    renderCredentials();
    return false; // whether the server said if the address is confirmed
  }
  renderCredentials();
  return true;
}

async function sendConfirmation() {
  if (confirmBusy) return;
  const btn = document.getElementById('email-confirm-send');
  confirmBusy = true;
  btn.setAttribute('aria-disabled', 'true'); // stays focusable: the answer is read out next to it
  confirmNote = null;
  signupNote = null; // this answer replaces what the sign-up said
  renderConfirmNote();
  try {
    const r = await api('/me/email-confirmation', { method: 'POST', body: {} });
    confirmNote = { kind: 'sent', to: (r && r.sent_to) || (me && me.email) || '' };
  } catch (x) {
    confirmNote = x.code === 'already_confirmed' ? null
      : { kind: 'error', code: x.code, message: x.message };
    if (x.code === 'already_confirmed') {
      // confirmed meanwhile (the link opened in another tab): the list instead
      await loadCredentials();
      if (!recBox.hidden) fillSources();
    }
  } finally {
    confirmBusy = false;
    btn.removeAttribute('aria-disabled');
  }
  renderConfirmNote();
}

async function startCredentials(user) {
  if (!user) return;
  me = user;
  canAsk = user.role === 'student';
  credBox.hidden = false;
  document.getElementById('email-confirm-send').addEventListener('click', sendConfirmation);
  if (await loadCredentials()) {
    // dropped unread when the address is confirmed already: nothing to say then
    const note = takeSignupNote();
    if (!emailConfirmed && note) {
      signupNote = note;
      renderConfirmNote();
    }
  }
  onLangChange(renderCredentials);
}

// ---- recognition ----

const recBox = document.getElementById('recognition');
let requests = [];

function requestItem(r) {
  const c = r.credential || {};
  const target = r.target || {};
  const home = insts.get(target.institution);
  const p = r.proposal || {};
  const d = r.decision;
  const where = [institutionName(home, target.institution),
    target.programme, target.course].filter(Boolean).join(' — ');
  const verdict = d
    ? el('p', { class: `verdict ${d.outcome === 'not_recognised' ? 'verdict-revoked' : 'verdict-valid'}`,
      'data-outcome': d.outcome },
    t('me.rec_decided', { outcome: t(`outcome.${d.outcome}`) }) +
      (typeof d.credits === 'number' ? ` · ${t('me.rec_credits', { n: d.credits })}` : '') +
      (d.grade ? ` · ${t('me.rec_grade', { g: d.grade })}` : ''))
    : el('p', { class: 'meta', text: t('me.rec_proposed', { outcome: t(`outcome.${p.outcome || 'needs_review'}`) }) });
  return el('li', { 'data-id': r.id, 'data-status': r.status }, el('article', { class: 'card' },
    el('h3', { text: c.title || t('me.rec_untitled') }),
    el('p', { class: 'meta', text: where }),
    el('p', { class: 'meta' }, el('span', { class: `pill status-${r.status}`, text: t(`status.${r.status}`) })),
    verdict,
    d && d.reasons ? el('p', { class: 'pre', text: d.reasons }) : null,
    appealPart(r)));
}

// A decision may be appealed once: the form, or what the student wrote.
function appealPart(r) {
  if (r.appeal) {
    return el('p', { class: 'meta appeal-sent' },
      t('me.rec_appealed', { d: formatDate(String(r.appeal.at || '').slice(0, 10)) }));
  }
  if (r.status !== 'decided') return null;
  const id = `appeal-${r.id}`;
  const form = el('form', { class: 'appeal-form', novalidate: 'novalidate' },
    el('label', { for: id, text: t('me.rec_appeal_label') }),
    el('textarea', { id, name: 'text', rows: '3', maxlength: '4000' }),
    el('p', { class: 'alert', role: 'alert' }),
    el('button', { type: 'submit', class: 'secondary', text: t('me.rec_appeal_send') }));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const box = form.querySelector('.alert');
    const text = form.elements.text.value.trim();
    box.textContent = '';
    if (!text) { box.textContent = t('me.rec_appeal_need'); return; }
    form.querySelector('button').disabled = true;
    try {
      const updated = await api(`/recognition-requests/${encodeURIComponent(r.id)}/appeal`,
        { method: 'POST', body: { text } });
      requests = requests.map((x) => (x.id === updated.id ? updated : x));
      renderRequests();
      document.getElementById('rec-done').textContent = t('me.rec_appeal_sent');
    } catch (x) {
      box.textContent = x.message;
      form.querySelector('button').disabled = false;
    }
  });
  return el('details', { class: 'appeal' }, el('summary', { text: t('me.rec_appeal') }), form);
}

function renderRequests() {
  document.getElementById('requests').replaceChildren(...requests.map(requestItem));
  document.getElementById('requests-empty').hidden = requests.length > 0;
}

function fillTargets(user) {
  const select = document.getElementById('rec-target');
  const current = select.value || (user && user.institution) || '';
  const sorted = [...insts.values()].sort((a, b) =>
    institutionName(a).localeCompare(institutionName(b), lang()));
  select.replaceChildren(new Option(t('home.none'), ''),
    ...sorted.map((i) => new Option(institutionName(i), i.id, false, i.id === current)));
}

// What the request is about: one of the student's issued credentials, or a file.
function fillSources() {
  const select = document.getElementById('rec-source');
  const current = select.value;
  const issued = credentials.filter((c) => c.state === 'delivered');
  select.replaceChildren(new Option(t('me.rec_source_file'), ''),
    ...issued.map((c) => new Option(`${c.title} — ${formatDate(c.issued_at)}`, c.id, false,
      c.id === current)));
  document.getElementById('rec-source-field').hidden = issued.length === 0;
  sourceChanged();
}

function sourceChanged() {
  const fromFile = !document.getElementById('rec-source').value;
  document.getElementById('rec-file-field').hidden = !fromFile;
  document.getElementById('rec-file').required = fromFile;
}

// The file as the API wants it: JSON-LD as an object, ELM 2 XML as text.
async function readCredential(file) {
  const text = await file.text();
  if (/^\s*</.test(text)) return { credential_xml: text };
  try {
    return { credential: JSON.parse(text) };
  } catch {
    throw new Error(t('me.rec_bad_file'));
  }
}

async function submitRequest(e) {
  e.preventDefault();
  const f = e.target;
  const err = document.getElementById('rec-error');
  const done = document.getElementById('rec-done');
  err.textContent = '';
  done.textContent = '';
  const chosen = f.elements.source.value;
  const file = f.elements.file.files[0];
  if (!chosen && !file) { err.textContent = t('me.rec_need_file'); return; }
  if (!f.elements.institution.value) { err.textContent = t('me.rec_need_target'); return; }
  const btn = f.querySelector('button[type="submit"]');
  btn.disabled = true;
  try {
    const body = chosen ? { credential_id: chosen } : await readCredential(file);
    body.target = { institution: f.elements.institution.value };
    if (f.elements.programme.value.trim()) body.target.programme = f.elements.programme.value.trim();
    if (f.elements.course.value.trim()) body.target.course = f.elements.course.value.trim();
    const r = await api('/recognition-requests', { method: 'POST', body });
    requests = [r, ...requests.filter((x) => x.id !== r.id)];
    renderRequests();
    done.textContent = t('me.rec_sent');
    f.reset();
    fillTargets(null);
    fillSources();
  } catch (x) {
    err.textContent = x.message;
  } finally {
    btn.disabled = false;
  }
}

async function startRecognition(user) {
  if (!user || user.role !== 'student') return; // staff have their own pages
  recBox.hidden = false;
  fillTargets(user);
  fillSources();
  document.getElementById('rec-source').addEventListener('change', sourceChanged);
  document.getElementById('rec-form').addEventListener('submit', submitRequest);
  onLangChange(() => { fillTargets(null); fillSources(); renderRequests(); });
  try {
    requests = (await api('/recognition-requests')).items || [];
  } catch (x) {
    document.getElementById('rec-error').textContent = x.message;
  }
  renderRequests();
}

const s = await initPage();
if (!s) {
  view = { kind: 'signed_out' };
} else {
  try {
    const [r, m] = await Promise.all([api('/me/applications'), institutions()]);
    insts = m;
    view = { kind: 'list', items: r.items || [], user: s.user };
  } catch (err) {
    view = err.status === 401 ? { kind: 'signed_out' } : { kind: 'error', message: err.message };
  }
}
render();
onLangChange(render);
await startCredentials(s && s.user);
await startRecognition(s && s.user);
