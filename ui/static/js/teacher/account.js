// Sign up, log in, and the signed-in home page.
import { h, showError } from '../dom.js';

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

export function field(label, name, type, extra = {}) {
  return h('label', {}, label, h('input', { name, type, required: true, ...extra }));
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
  const meter = h('meter', { min: 0, max: 4, low: 2, high: 3, optimum: 4, value: 0, id: `${input.id}-strength`, 'aria-label': 'Password strength' });
  const text = h('span', { class: 'strength-text muted', id: `${input.id}-strength-text`, 'aria-live': 'polite' });
  const words = ['Very easy to guess', 'Easy to guess', 'Could be guessed', 'Strong', 'Very strong'];
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
        if (r.ok) text.textContent = words[r.score];
        else if (r.score < 3) text.textContent = `${words[r.score]}: add words that do not belong together.`;
        else text.textContent = `This password ${r.reason}.`;
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
  return form('Log in', [
    field('E-mail', 'email', 'email', { autocomplete: 'username', id: 'login-email' }),
    field('Password', 'password', 'password', { autocomplete: 'current-password', id: 'login-password' }),
  ], 'Log in', async (v) => {
    const session = await ctx.client.request('POST', '/api/v1/sessions', {
      // A second session is harmless: signing in may move to another origin.
      body: loginBody(v.email, v.password), auth: false, idempotent: true, retry: true,
    });
    rememberDevice(session);
    await ctx.signIn(session);
    ctx.go(sessionStorage.getItem('classboard.after-login') || '#/');
    sessionStorage.removeItem('classboard.after-login');
  }, h('p', { class: 'muted' }, 'New here? ', h('a', { href: '#/signup' }, 'Create an account'),
    ' · ', h('a', { href: '#/forgot' }, 'Forgot your password?')));
}

export function signupView(ctx) {
  const name = field('Your name', 'name', 'text', { autocomplete: 'name', id: 'signup-name' });
  const email = field('E-mail', 'email', 'email', { autocomplete: 'username', id: 'signup-email' });
  const password = field('Password (at least 10 characters, hard to guess)', 'password', 'password', { autocomplete: 'new-password', id: 'signup-password', minlength: 10 });
  const others = () => ({ email: email.querySelector('input').value, name: name.querySelector('input').value });
  password.append(strengthMeter(ctx, password.querySelector('input'), others));
  const f = form('Create an account', [name, email, password], 'Create account', async (v) => {
    const res = await ctx.client.request('POST', '/api/v1/accounts', { body: v, auth: false });
    if (res.status === 'confirmation_sent') {
      // The same answer whether or not the address has an account.
      f.replaceWith(h('section', { class: 'card narrow', id: 'signup-sent' },
        h('h1', {}, 'Check your e-mail'),
        h('p', {}, `We sent a link to ${v.email}. Open it within 24 hours to finish creating your account.`),
        h('p', { class: 'muted' }, 'Nothing there? Look in the spam folder. If the address has an account already, its owner gets a note instead: ',
          h('a', { href: '#/login' }, 'log in'), ' or ', h('a', { href: '#/forgot' }, 'reset the password'), '.')));
      return;
    }
    const session = await ctx.client.request('POST', '/api/v1/sessions', {
      // A second session is harmless: signing in may move to another origin.
      body: loginBody(v.email, v.password), auth: false, idempotent: true, retry: true,
    });
    rememberDevice(session);
    await ctx.signIn(session);
    ctx.go('#/');
  }, h('p', { class: 'muted' }, 'Have an account? ', h('a', { href: '#/login' }, 'Log in')));
  return f;
}

// confirmView is the page the confirmation link opens
// (<base>/confirm#token=...).
export function confirmView(ctx, match) {
  const token = match[1];
  const f = form('Confirm your account', [
    h('p', { class: 'muted' }, 'One click and your classboard account is ready.'),
  ], 'Confirm my account', async () => {
    // Not retried elsewhere: the link works once.
    const teacher = await ctx.client.request('POST', '/api/v1/accounts/confirm', { body: { token }, auth: false });
    f.replaceWith(h('section', { class: 'card narrow', id: 'confirm-done' },
      h('h1', {}, 'Your account is ready'),
      h('p', {}, `Log in as ${teacher.email} with the password you chose.`),
      // The teacher app at the site's root, also when this page is /confirm.
      h('p', {}, h('a', { href: './#/login', id: 'confirm-login', class: 'button' }, 'Log in'))));
  }, h('p', { class: 'muted' }, 'Link expired or used? ', h('a', { href: './#/signup' }, 'Sign up again')));
  return f;
}

export function homeView(ctx) {
  return h('section', { class: 'card' },
    h('h1', { id: 'greeting' }, `Hello, ${ctx.teacher.name}`),
    h('p', { class: 'muted' }, `Signed in as ${ctx.teacher.email}.`),
    ...(ctx.homeSections || []).map((fn) => fn(ctx)));
}
