// The teacher's boards: pair one by typing its code or by opening the
// link in its QR code (/pair#claim=...: the claim token stays in the URL's
// fragment, which no server sees), list them, forget one.
import { h, showError } from '../dom.js';
import { randomKey } from '../client.js';
import { presentView } from './present.js';

const AFTER_LOGIN = 'classboard.after-login';

export function register(ctx) {
  ctx.addRoute(/^#\/boards$/, boardsView);
  ctx.addRoute(/^#\/boards\/([A-Za-z0-9_-]+)$/, presentView);
  // Public so that a teacher who is not signed in is sent to log in and
  // comes back here, claim token and all.
  ctx.addRoute(/^#claim=([A-Za-z0-9_-]+)$/, claimView, { public: true });
  ctx.navItems = [...(ctx.navItems || []), { href: '#/boards', label: 'Boards' }];
  ctx.homeSections = [...(ctx.homeSections || []), () => h('p', {},
    h('a', { href: '#/boards', id: 'home-boards' }, 'Your boards'), ' · pair a classroom board and present on it.')];
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
        ? { message: 'Too many wrong codes. Wait a few minutes, or scan the QR code on the board instead.' }
        : err);
    } finally {
      btn.disabled = false;
    }
  });
  return f;
}

function nameField(id) {
  return h('label', {}, 'Name of the board', h('input', { name: 'name', id, required: true, maxlength: 60, value: 'Classroom board' }));
}

export async function boardsView(ctx) {
  const page = await ctx.client.request('GET', '/api/v1/boards?limit=200');
  const list = h('ul', { class: 'boards', id: 'boards' });
  for (const b of page.items) {
    list.append(h('li', { class: 'board-row', dataset: { board: b.board_id } },
      h('span', { class: `dot ${b.online ? 'on' : 'off'}`, title: b.online ? 'Online' : 'Offline' }),
      h('a', { href: `#/boards/${b.board_id}`, class: 'board-name' }, b.name),
      h('span', { class: 'spacer' }),
      h('a', { href: `#/boards/${b.board_id}`, class: 'button' }, 'Present')));
  }
  if (page.items.length === 0) list.append(h('li', { class: 'muted' }, 'No boards yet: pair one below.'));
  return h('section', {},
    h('div', { class: 'card' }, h('h1', {}, 'Your boards'), list),
    h('h2', {}, 'Pair a board'),
    h('p', { class: 'muted' }, 'Open /board on the classroom screen. Type the code it shows, or scan its QR code with your phone.'),
    pairForm(ctx, {
      id: 'pair-form',
      fields: [
        h('label', {}, 'Code on the board', h('input', {
          name: 'code', id: 'pair-code', required: true, inputmode: 'numeric', autocomplete: 'one-time-code',
          pattern: '[0-9 ]*', maxlength: 7, placeholder: '123 456',
        })),
        nameField('pair-name'),
      ],
      submitLabel: 'Pair',
      body: (v) => ({ code: v.code, name: v.name }),
    }));
}

export function claimView(ctx, match) {
  if (!ctx.teacher) {
    sessionStorage.setItem(AFTER_LOGIN, location.hash);
    ctx.go('#/login');
    return h('p', { class: 'muted' }, 'Log in to pair the board…');
  }
  const claimToken = match[1];
  return h('section', { class: 'narrow' },
    h('h1', {}, 'Pair this board'),
    h('p', { class: 'muted' }, 'You scanned the code of a classroom board. Give it a name to pair it with your account.'),
    pairForm(ctx, {
      id: 'claim-form',
      fields: [nameField('claim-name')],
      submitLabel: 'Pair this board',
      body: (v) => ({ claim_token: claimToken, name: v.name }),
    }));
}
