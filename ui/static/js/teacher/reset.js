// Forgotten passwords: ask for a reset link (#/forgot), and the page the
// link opens (<base>/reset#token=...) to choose a new password.
import { h } from '../dom.js';
import { form, field, strengthMeter } from './account.js';

export function forgotView(ctx) {
  const f = form('Forgot your password?', [
    h('p', { class: 'muted' }, 'Type the e-mail address of your account. We send you a link to choose a new password.'),
    field('E-mail', 'email', 'email', { autocomplete: 'username', id: 'forgot-email' }),
  ], 'Send the link', async (v) => {
    await ctx.client.request('POST', '/api/v1/password-resets', {
      // The key makes a retry on another origin safe: one mail, not two.
      body: { email: v.email }, auth: false, idempotencyKey: true, retry: true,
    });
    // The same answer whether or not the address has an account.
    f.replaceWith(h('section', { class: 'card narrow', id: 'forgot-sent' },
      h('h1', {}, 'Check your e-mail'),
      h('p', {}, `If ${v.email} has an account, a link to choose a new password is on its way. It works for 30 minutes, once.`),
      h('p', { class: 'muted' }, h('a', { href: '#/login' }, 'Back to log in'))));
  }, h('p', { class: 'muted' }, h('a', { href: '#/login' }, 'Back to log in')));
  return f;
}

export function resetView(ctx, match) {
  const token = match[1];
  const password = field('New password (at least 10 characters, hard to guess)', 'password', 'password', { autocomplete: 'new-password', id: 'reset-password', minlength: 10 });
  password.append(strengthMeter(ctx, password.querySelector('input')));
  const f = form('Choose a new password', [password], 'Set password', async (v) => {
    // Not retried elsewhere: the token works once, so a second try of a
    // request that went through would only report it as used.
    await ctx.client.request('POST', '/api/v1/password-resets/confirm', {
      body: { token, password: v.password }, auth: false,
    });
    f.replaceWith(h('section', { class: 'card narrow', id: 'reset-done' },
      h('h1', {}, 'Your password is changed'),
      h('p', {}, 'Every device that was signed in to your account is signed out now.'),
      // The teacher app at the site's root, also when this page is /reset.
      h('p', {}, h('a', { href: './#/login', id: 'reset-login', class: 'button' }, 'Log in'))));
  }, h('p', { class: 'muted' }, 'Link expired or used? ', h('a', { href: '#/forgot' }, 'Ask for a new one')));
  return f;
}
