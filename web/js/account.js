// account.js — the sign-up (/signup) and log-in (/login) forms. Sign-up creates the
// student account and signs in at once; both then go to ?next= (a same-origin path
// only) or their default page. The API checks every field; its messages are shown
// next to the field they name and in the page's alert region. What became of the
// sign-up's confirmation mail is left in sessionStorage for /me to say.

import { ApiError, api, safeNext, signIn } from './api.js';
import { homeId, initPage } from './header.js';
import { lang, onLangChange, t } from './i18n.js';

const signupForm = document.getElementById('signup-form');
const form = signupForm || document.getElementById('login-form');
const alertBox = document.getElementById('form-error');
const submit = form.querySelector('button[type="submit"]');
const params = new URLSearchParams(location.search);
const fallback = signupForm ? '/me' : '/';
let next = safeNext(params.get('next'), fallback);
if (/^\/(login|signup)(\?|$)/.test(next)) next = fallback; // never back to a form

// Carry ?next= over to the other form, so a detour through sign-up still ends where
// the student was going.
const other = document.getElementById('other-link');
if (params.has('next')) other.href = `${other.pathname}?next=${encodeURIComponent(next)}`;

function fieldError(name, message) {
  const input = form.elements[name];
  const box = document.getElementById(`${name}-error`);
  if (!input || !box) return false;
  box.textContent = message;
  if (message) input.setAttribute('aria-invalid', 'true');
  else input.removeAttribute('aria-invalid');
  return true;
}

function clearErrors() {
  alertBox.textContent = '';
  for (const name of ['name', 'email', 'password']) fieldError(name, '');
}

// The API speaks English; the common refusals are said in the interface language.
function localise(code, path, message) {
  if (lang() === 'en') return message;
  if (code === 'invalid_credentials') return t('error.invalid_credentials');
  if (code === 'conflict') return t('error.conflict');
  if (path === '/email') return t('error.email');
  if (path === '/password' && /at least/.test(message)) return t('signup.password_hint');
  return message;
}

function showError(err) {
  const details = err.details || [];
  alertBox.textContent = localise(err.code, details[0]?.path, err.message);
  let first = null;
  for (const d of details) {
    const name = String(d.path || '').replace(/^\//, '');
    const text = localise(err.code, d.path, d.message || err.message);
    if (fieldError(name, text) && !first) first = form.elements[name];
  }
  if (!first && err.code === 'conflict') {
    fieldError('email', localise(err.code, '/email', err.message));
    first = form.elements.email;
  }
  (first || form.elements.email).focus();
}

// What became of the confirmation mail the sign-up sent ("sent", "failed" or
// "unavailable"), for /me (me.js) to say once, above its "Send the confirmation
// e-mail" button: this tab only, and read there once.
const CONFIRMATION_KEY = 'mcx.signup.confirmation';

function rememberConfirmationMail(outcome) {
  try {
    if (['sent', 'failed', 'unavailable'].includes(outcome)) sessionStorage.setItem(CONFIRMATION_KEY, outcome);
    else sessionStorage.removeItem(CONFIRMATION_KEY);
  } catch { /* storage refused: /me offers the button without the note */ }
}

function busy(on) {
  submit.disabled = on;
  submit.textContent = t(on ? (signupForm ? 'signup.busy' : 'login.busy')
    : (signupForm ? 'signup.submit' : 'login.submit'));
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  clearErrors();
  const email = form.elements.email.value.trim();
  const password = form.elements.password.value;
  busy(true);
  try {
    if (signupForm) {
      const body = { email, password };
      const name = form.elements.name.value.trim();
      if (name) body.name = name;
      if (homeId()) body.home_institution = homeId();
      let created;
      try {
        created = await api('/users', { method: 'POST', body });
      } catch (err) {
        // A home university this node no longer knows must not block the sign-up.
        if (!(err instanceof ApiError && (err.details || []).some((d) => d.path === '/home_institution'))) throw err;
        delete body.home_institution;
        created = await api('/users', { method: 'POST', body });
      }
      rememberConfirmationMail(created && created.confirmation_mail);
    }
    await signIn(email, password);
    location.assign(next);
  } catch (err) {
    busy(false);
    showError(err);
  }
});

onLangChange(() => busy(false));

await initPage();
