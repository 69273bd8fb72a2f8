// Sign up, log in, and the signed-in home page.
import { h, showError } from '../dom.js';
import { t, reasonText } from '../i18n.js';

export function form(title, fields, submitLabel, onSubmit, footer) {
  const f = h('form', { class: 'card narrow', novalidate: true },
    h('h1', {}, title),
    h('div', { class: 'form-error', role: 'alert' }),
    ...fields,
    h('button', { type: 'submit', class: 'primary' }, submitLabel),
    footer);
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    const btn = f.querySelector('button[type=submit]');
    btn.disabled = true;
    showError(f, null);
    try {
      await onSubmit(Object.fromEntries(new FormData(f)));
    } catch (err) {
      showError(f, err);
    } finally {
      btn.disabled = false;
    }
  });
  return f;
}

// field is a labelled input; hint, when given, says under the label what
// the field wants (read out with the field, and kept out of the label that
// error messages name).
export function field(label, name, type, extra = {}, hint = '') {
  const note = hint ? h('span', { class: 'hint', id: `${extra.id || name}-hint` }, hint) : null;
  return h('label', {}, label, note, h('input', { name, type, required: true, 'aria-describedby': note && note.id, ...extra }));
}

// A device token marks this browser as one that signed in to the account
// before: an attack on the account does not slow it down. It outlives
// logging out, and is kept per e-mail address.
const DEVICE_KEY = 'classboard.device.';

export function rememberDevice(session) {
  if (session.device_token && session.teacher) {
    localStorage.setItem(DEVICE_KEY + session.teacher.email.toLowerCase(), session.device_token);
  }
}

export function loginBody(email, password) {
  const body = { email, password, device: deviceLabel() };
  const dt = localStorage.getItem(DEVICE_KEY + email.trim().toLowerCase());
  if (dt) body.device_token = dt;
  return body;
}

// strengthMeter shows, as the teacher types a new password, how hard it is
// to guess, with the server's own verdict (the one sign-up applies).
// others returns the e-mail and name typed so far (passwords made of them
// are easy to guess).
export function strengthMeter(ctx, input, others = () => ({})) {
  const meter = h('meter', { min: 0, max: 4, low: 2, high: 3, optimum: 4, value: 0, id: `${input.id}-strength`, 'aria-label': t('account.strength') });
  const text = h('span', { class: 'strength-text muted', id: `${input.id}-strength-text`, 'aria-live': 'polite' });
  let timer;
  let seq = 0;
  input.addEventListener('input', () => {
    clearTimeout(timer);
    const pw = input.value;
    if (!pw) { meter.value = 0; text.textContent = ''; return; }
    timer = setTimeout(async () => {
      const mine = ++seq;
      try {
        const r = await ctx.client.request('POST', '/api/v1/password-strength', { body: { password: pw, ...others() }, auth: false });
        if (mine !== seq) return; // an older answer after a newer one
        meter.value = r.score;
        const strength = t(`account.strength_${r.score}`);
        if (r.ok) text.textContent = strength;
        else if (r.score < 3) text.textContent = t('account.strength_weak', { strength });
        else text.textContent = t('account.strength_reason', { reason: reasonText(r.reason) });
        text.className = `strength-text ${r.ok ? 'ok' : 'weak'}`;
      } catch { /* the meter is a help; the form still checks on submit */ }
    }, 300);
  });
  return h('div', { class: 'strength' }, meter, text);
}

export function deviceLabel() {
  const ua = navigator.userAgent;
  if (/iPhone|Android.+Mobile/.test(ua)) return 'phone';
  if (/iPad|Android|Tablet/.test(ua)) return 'tablet';
  return 'laptop';
}

export function loginView(ctx) {
  return form(t('account.login'), [
    field(t('account.email'), 'email', 'email', { autocomplete: 'username', id: 'login-email' }),
    field(t('account.password'), 'password', 'password', { autocomplete: 'current-password', id: 'login-password' }),
  ], t('account.login'), async (v) => {
    const session = await ctx.client.request('POST', '/api/v1/sessions', {
      // A second session is harmless: signing in may move to another origin.
      body: loginBody(v.email, v.password), auth: false, idempotent: true, retry: true,
    });
    rememberDevice(session);
    await ctx.signIn(session);
    ctx.go(sessionStorage.getItem('classboard.after-login') || '#/');
    sessionStorage.removeItem('classboard.after-login');
  }, h('p', { class: 'muted' }, t('account.new_here'), ' ', h('a', { href: '#/signup' }, t('account.create_link')),
    ' · ', h('a', { href: '#/forgot' }, t('account.forgot_link'))));
}

export function signupView(ctx) {
  const name = field(t('account.name'), 'name', 'text', { autocomplete: 'name', id: 'signup-name' });
  const email = field(t('account.email'), 'email', 'email', { autocomplete: 'username', id: 'signup-email' });
  const password = field(t('account.password'), 'password', 'password', { autocomplete: 'new-password', id: 'signup-password', minlength: 10 }, t('account.password_hint'));
  const others = () => ({ email: email.querySelector('input').value, name: name.querySelector('input').value });
  password.append(strengthMeter(ctx, password.querySelector('input'), others));
  const f = form(t('account.signup_title'), [name, email, password], t('account.signup'), async (v) => {
    const res = await ctx.client.request('POST', '/api/v1/accounts', { body: v, auth: false });
    if (res.status === 'confirmation_sent') {
      // The same answer whether or not the address has an account.
      f.replaceWith(h('section', { class: 'card narrow', id: 'signup-sent' },
        h('h1', {}, t('account.check_mail')),
        h('p', {}, t('account.signup_sent', { email: v.email })),
        h('p', { class: 'muted' }, t('account.signup_spam'), ' ',
          h('a', { href: '#/login' }, t('account.login_link')), ' · ', h('a', { href: '#/forgot' }, t('account.reset_link')))));
      return;
    }
    const session = await ctx.client.request('POST', '/api/v1/sessions', {
      // A second session is harmless: signing in may move to another origin.
      body: loginBody(v.email, v.password), auth: false, idempotent: true, retry: true,
    });
    rememberDevice(session);
    await ctx.signIn(session);
    ctx.go('#/');
  }, h('p', { class: 'muted' }, t('account.have_account'), ' ', h('a', { href: '#/login' }, t('account.login_link'))));
  return f;
}

// confirmView is the page the confirmation link opens
// (<base>/confirm#token=...).
export function confirmView(ctx, match) {
  const token = match[1];
  const f = form(t('account.confirm_title'), [
    h('p', { class: 'muted' }, t('account.confirm_text')),
  ], t('account.confirm'), async () => {
    // Not retried elsewhere: the link works once.
    const teacher = await ctx.client.request('POST', '/api/v1/accounts/confirm', { body: { token }, auth: false });
    f.replaceWith(h('section', { class: 'card narrow', id: 'confirm-done' },
      h('h1', {}, t('account.ready')),
      h('p', {}, t('account.ready_text', { email: teacher.email })),
      // The teacher app at the site's root, also when this page is /confirm.
      h('p', {}, h('a', { href: './#/login', id: 'confirm-login', class: 'button' }, t('account.login_link')))));
  }, h('p', { class: 'muted' }, t('account.link_used'), ' ', h('a', { href: './#/signup' }, t('account.signup_again'))));
  return f;
}

export function homeView(ctx) {
  return h('section', { class: 'card' },
    h('h1', { id: 'greeting' }, t('account.hello', { name: ctx.teacher.name })),
    h('p', { class: 'muted' }, t('account.signed_in_as', { email: ctx.teacher.email })),
    ...(ctx.homeSections || []).map((fn) => fn(ctx)));
}
