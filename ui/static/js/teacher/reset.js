// Forgotten passwords: ask for a reset link (#/forgot), and the page the
// link opens (<base>/reset#token=...) to choose a new password.
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { form, field, strengthMeter } from './account.js';

export function forgotView(ctx) {
  const f = form(t('account.forgot_title'), [
    h('p', { class: 'muted' }, t('account.forgot_text')),
    field(t('account.email'), 'email', 'email', { autocomplete: 'username', id: 'forgot-email' }),
  ], t('account.send_link'), async (v) => {
    await ctx.client.request('POST', '/api/v1/password-resets', {
      // The key makes a retry on another origin safe: one mail, not two.
      body: { email: v.email }, auth: false, idempotencyKey: true, retry: true,
    });
    // The same answer whether or not the address has an account.
    f.replaceWith(h('section', { class: 'card narrow', id: 'forgot-sent' },
      h('h1', {}, t('account.check_mail')),
      h('p', {}, t('account.forgot_sent', { email: v.email })),
      h('p', { class: 'muted' }, h('a', { href: '#/login' }, t('account.back_to_login')))));
  }, h('p', { class: 'muted' }, h('a', { href: '#/login' }, t('account.back_to_login'))));
  return f;
}

export function resetView(ctx, match) {
  const token = match[1];
  const password = field(t('account.new_password'), 'password', 'password', { autocomplete: 'new-password', id: 'reset-password', minlength: 10 }, t('account.password_hint'));
  password.append(strengthMeter(ctx, password.querySelector('input')));
  const f = form(t('account.reset_title'), [password], t('account.set_password'), async (v) => {
    // Not retried elsewhere: the token works once, so a second try of a
    // request that went through would only report it as used.
    await ctx.client.request('POST', '/api/v1/password-resets/confirm', {
      body: { token, password: v.password }, auth: false,
    });
    f.replaceWith(h('section', { class: 'card narrow', id: 'reset-done' },
      h('h1', {}, t('account.reset_done')),
      h('p', {}, t('account.reset_done_text')),
      // The teacher app at the site's root, also when this page is /reset.
      h('p', {}, h('a', { href: './#/login', id: 'reset-login', class: 'button' }, t('account.login_link')))));
  }, h('p', { class: 'muted' }, t('account.link_used'), ' ', h('a', { href: '#/forgot' }, t('account.ask_new'))));
  return f;
}
