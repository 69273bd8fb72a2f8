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
      body: { email: v.email, password: v.password, device: deviceLabel() }, auth: false, idempotent: true, retry: true,
    });
    await ctx.signIn(session);
    ctx.go(sessionStorage.getItem('classboard.after-login') || '#/');
    sessionStorage.removeItem('classboard.after-login');
  }, h('p', { class: 'muted' }, 'New here? ', h('a', { href: '#/signup' }, 'Create an account'),
    ' · ', h('a', { href: '#/forgot' }, 'Forgot your password?')));
}

export function signupView(ctx) {
  return form('Create an account', [
    field('Your name', 'name', 'text', { autocomplete: 'name', id: 'signup-name' }),
    field('E-mail', 'email', 'email', { autocomplete: 'username', id: 'signup-email' }),
    field('Password (at least 10 characters)', 'password', 'password', { autocomplete: 'new-password', id: 'signup-password', minlength: 10 }),
  ], 'Create account', async (v) => {
    await ctx.client.request('POST', '/api/v1/accounts', { body: v, auth: false });
    const session = await ctx.client.request('POST', '/api/v1/sessions', {
      // A second session is harmless: signing in may move to another origin.
      body: { email: v.email, password: v.password, device: deviceLabel() }, auth: false, idempotent: true, retry: true,
    });
    await ctx.signIn(session);
    ctx.go('#/');
  }, h('p', { class: 'muted' }, 'Have an account? ', h('a', { href: '#/login' }, 'Log in')));
}

export function homeView(ctx) {
  return h('section', { class: 'card' },
    h('h1', { id: 'greeting' }, `Hello, ${ctx.teacher.name}`),
    h('p', { class: 'muted' }, `Signed in as ${ctx.teacher.email}.`),
    ...(ctx.homeSections || []).map((fn) => fn(ctx)));
}
