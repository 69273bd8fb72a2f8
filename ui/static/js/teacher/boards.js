// The teacher's boards: pair one by typing its code or by opening the
// link in its QR code (/pair#claim=...: the claim token stays in the URL's
// fragment, which no server sees), list them, forget one.
import { h, showError } from '../dom.js';
import { randomKey } from '../client.js';
import { t } from '../i18n.js';
import { presentView } from './present.js';

const AFTER_LOGIN = 'classboard.after-login';

export function register(ctx) {
  ctx.addRoute(/^#\/boards$/, boardsView);
  ctx.addRoute(/^#\/boards\/([A-Za-z0-9_-]+)$/, presentView);
  // Public so that a teacher who is not signed in is sent to log in and
  // comes back here, claim token and all.
  ctx.addRoute(/^#claim=([A-Za-z0-9_-]+)$/, claimView, { public: true });
  ctx.navItems = [...(ctx.navItems || []), { href: '#/boards', label: t('boards.nav') }];
  ctx.homeSections = [...(ctx.homeSections || []), () => h('p', {},
    h('a', { href: '#/boards', id: 'home-boards' }, t('boards.title')), ` · ${t('boards.home_hint')}`)];
  // boardGone takes the teacher from a board that is no longer theirs
  // (unpaired on the board itself, or forgotten on another of their
  // devices) to their boards, saying so there.
  ctx.boardGone = (name) => {
    ctx.boardsNotice = t('boards.gone', { name });
    ctx.go('#/boards');
  };
}

// pairForm posts a pairing with an Idempotency-Key made once per attempt,
// so a retry on another server cannot pair twice.
function pairForm(ctx, { id, fields, submitLabel, body }) {
  let key = randomKey();
  const f = h('form', { class: 'card', id, novalidate: true },
    h('div', { class: 'form-error', role: 'alert' }), ...fields,
    h('button', { type: 'submit', class: 'primary' }, submitLabel));
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    const btn = f.querySelector('button[type=submit]');
    btn.disabled = true;
    showError(f, null);
    try {
      const board = await ctx.client.request('POST', '/api/v1/pairings', {
        body: body(Object.fromEntries(new FormData(f))), idempotencyKey: key,
      });
      ctx.go(`#/boards/${board.board_id}`);
    } catch (err) {
      key = randomKey(); // a refused attempt may be corrected and sent again
      showError(f, err.status === 429
        ? { message: t('boards.too_many_codes') }
        : err);
    } finally {
      btn.disabled = false;
    }
  });
  return f;
}

function nameField(id) {
  return h('label', {}, t('boards.name'), h('input', { name: 'name', id, required: true, maxlength: 60, value: t('boards.name_default') }));
}

export async function boardsView(ctx) {
  const page = await ctx.client.request('GET', '/api/v1/boards?limit=200');
  const list = h('ul', { class: 'boards', id: 'boards' });
  for (const b of page.items) {
    list.append(h('li', { class: 'board-row', dataset: { board: b.board_id } },
      h('span', { class: `dot ${b.online ? 'on' : 'off'}`, title: t(b.online ? 'boards.online' : 'boards.offline') }),
      h('a', { href: `#/boards/${b.board_id}`, class: 'board-name' }, b.name),
      h('span', { class: 'spacer' }),
      h('a', { href: `#/boards/${b.board_id}`, class: 'button' }, t('boards.present'))));
  }
  if (page.items.length === 0) list.append(h('li', { class: 'muted' }, t('boards.none')));
  // Said once, on the first visit after a board went away.
  const notice = ctx.boardsNotice ? h('p', { id: 'boards-notice', class: 'card notice', role: 'alert' }, ctx.boardsNotice) : null;
  ctx.boardsNotice = null;
  // What to type on the classroom screen: this app's own address, which
  // serves the board too ("https://" is what browsers add by themselves).
  const boardAddress = `${location.origin.replace(/^https:\/\//, '')}/board`;
  return h('section', {},
    notice,
    h('div', { class: 'card' }, h('h1', {}, t('boards.title')), list),
    h('h2', {}, t('boards.pair_title')),
    h('p', {}, t('boards.pair_open')),
    h('p', { id: 'board-address', class: 'board-address' }, boardAddress),
    h('p', { class: 'muted' }, t('boards.pair_type')),
    pairForm(ctx, {
      id: 'pair-form',
      fields: [
        h('label', {}, t('boards.code'), h('input', {
          name: 'code', id: 'pair-code', required: true, inputmode: 'numeric', autocomplete: 'one-time-code',
          pattern: '[0-9 ]*', maxlength: 7, placeholder: '123 456',
        })),
        nameField('pair-name'),
      ],
      submitLabel: t('boards.pair'),
      body: (v) => ({ code: v.code, name: v.name }),
    }));
}

export function claimView(ctx, match) {
  if (!ctx.teacher) {
    sessionStorage.setItem(AFTER_LOGIN, location.hash);
    ctx.go('#/login');
    return h('p', { class: 'muted' }, t('boards.claim_login'));
  }
  const claimToken = match[1];
  return h('section', { class: 'narrow' },
    h('h1', {}, t('boards.claim_title')),
    h('p', { class: 'muted' }, t('boards.claim_hint')),
    pairForm(ctx, {
      id: 'claim-form',
      fields: [nameField('claim-name')],
      submitLabel: t('boards.claim_title'),
      body: (v) => ({ claim_token: claimToken, name: v.name }),
    }));
}
