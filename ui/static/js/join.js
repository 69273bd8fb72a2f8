// The pupil app: join a room with the code on the board and a first name,
// then answer: tap on the picture, pick a poll option or type a short
// answer. It keeps nothing but the pupil token (and its room) in local
// storage, so a reload keeps the pupil and their answer. No account, no
// tracking. Dutch or English, following the phone's language.
// @ts-check
import { Client, ApiError } from './client.js';
import { h, clear } from './dom.js';
import { t, errorText } from './i18n.js';
import { Live } from './live.js';

const PUPIL_KEY = 'classboard.pupil';

const root = /** @type {HTMLElement} */ (document.getElementById('join'));
document.title = `${t('join.title')} – classboard`;
// The client keeps its list of servers in memory only: a pupil's phone
// keeps nothing of ours but the pupil token.
const client = new Client({ storage: memoryStorage() });

/** @returns {Storage} */
function memoryStorage() {
  /** @type {Map<string, string>} */
  const m = new Map();
  return /** @type {Storage} */ (/** @type {unknown} */ ({
    getItem: (/** @type {string} */ k) => m.get(k) ?? null,
    setItem: (/** @type {string} */ k, /** @type {string} */ v) => { m.set(k, v); },
    removeItem: (/** @type {string} */ k) => { m.delete(k); },
  }));
}
/** @type {{ room_id: string, pupil_token: string } | null} */
let pupil = null;
/** @type {any} the room as last read */
let room = null;
/** @type {Live | null} the room's status, pushed: the phone asks nothing until it changes */
let live = null;

/** @param {unknown} err */
function explain(err) {
  if (err instanceof ApiError) {
    if (err.code === 'unauthorized' || err.code === 'not_found') return t('join.removed');
    if (err.code === 'invalid' && err.fields.name) return t('join.name_required');
    return errorText(err);
  }
  return t('join.unreachable');
}

function load() {
  try { return JSON.parse(localStorage.getItem(PUPIL_KEY) || 'null'); } catch { return null; }
}

/** @param {{ room_id: string, pupil_token: string } | null} p */
function save(p) {
  pupil = p;
  if (p) localStorage.setItem(PUPIL_KEY, JSON.stringify({ room_id: p.room_id, pupil_token: p.pupil_token }));
  else localStorage.removeItem(PUPIL_KEY);
}

/** @param {string} method @param {string} path @param {any} [opts] */
function api(method, path, opts = {}) {
  return client.request(method, path, { ...opts, token: pupil && pupil.pupil_token, auth: Boolean(pupil) });
}

async function start() {
  await client.init();
  pupil = load();
  if (pupil) {
    await refresh();
    return;
  }
  showJoin();
}

function showJoin(error = '') {
  follow(null);
  const fromLink = new URLSearchParams(location.hash.slice(1)).get('code') || '';
  const code = h('input', { id: 'code', name: 'code', inputmode: 'numeric', autocomplete: 'off', maxlength: '7', value: fromLink, required: true });
  // Not required here: the teacher may allow joining without a name, and
  // the server says when a name is needed.
  const name = h('input', { id: 'name', name: 'name', autocomplete: 'given-name', maxlength: '30' });
  const err = h('p', { id: 'join-error', class: 'error', role: 'alert' }, error);
  const go = h('button', { id: 'join-go', class: 'primary', type: 'submit' }, t('join.join'));
  const form = h('form', {
    onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      go.setAttribute('disabled', '');
      err.textContent = '';
      err.className = 'error';
      try {
        // A node too busy to take it (503, Retry-After) did not add the
        // pupil: send it again then, as the pupil would press Join again.
        const j = await patiently(() => client.request('POST', '/api/v1/rooms/join', {
          auth: false, retry: true, resendWhenBusy: true,
          body: { code: /** @type {HTMLInputElement} */ (code).value, name: /** @type {HTMLInputElement} */ (name).value },
        }), (text) => { err.className = 'busy'; err.textContent = text; });
        save(j);
        history.replaceState(null, '', location.pathname);
        await refresh();
      } catch (e2) {
        err.className = 'error';
        err.textContent = explain(e2);
        go.removeAttribute('disabled');
      }
    },
  },
  h('h1', {}, t('join.title')),
  h('label', { for: 'code' }, t('join.code')), code,
  h('label', { for: 'name' }, t('join.name')), name,
  err, go);
  clear(root).append(form);
  (fromLink ? name : code).focus();
}

// refresh reads the whole room (the question, the pupil's own answer, the
// picture) and redraws when something changed; then the live connection
// brings the room's status as the teacher changes it.
async function refresh() {
  if (!pupil) return;
  try {
    // Kept trying through a busy node or a failover: until it answers,
    // the phone has nothing else to show.
    const r = await patiently(() => api('GET', `/api/v1/rooms/${encodeURIComponent(pupil ? pupil.room_id : '')}`, { retry: true }), (text) => {
      if (room) note(text, 'busy');
      else clear(root).append(h('p', { id: 'status', class: 'busy', role: 'status' }, text));
    });
    if (room && room.question !== r.question) note('');
    const changed = !room || room.status !== r.status || room.question !== r.question || room.picture !== r.picture;
    room = r;
    if (changed) draw();
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 404)) {
      removed();
      return;
    }
    note(explain(err), 'error');
  }
  follow(pupil && room && room.status !== 'ended' ? pupil : null);
}

function removed() {
  follow(null);
  save(null);
  room = null;
  showJoin(t('join.removed'));
}

/**
 * follow keeps one live connection to the pupil's room (none for null),
 * through the same failover client as the apps.
 * @param {{ room_id: string, pupil_token: string } | null} p
 */
function follow(p) {
  if (live && (!p || live.opts.token !== p.pupil_token)) {
    live.stop();
    live = null;
  }
  if (!p || live) return;
  const path = `/api/v1/rooms/${encodeURIComponent(p.room_id)}`;
  live = new Live(client, {
    paths: { ticket: `${path}/live-tickets`, live: `${path}/live` },
    token: p.pupil_token,
    onMessage: (msg) => {
      if (msg.type === 'removed') { removed(); return; }
      // The teacher forgot the board: its activity is erased with it, so
      // for the pupil it has ended (the live client has stopped already).
      if (msg.type === 'unpaired') {
        if (room) { room.status = 'ended'; draw(); }
        return;
      }
      if (msg.type !== 'room' || !msg.room || !room) return;
      const r = msg.room;
      // Another question (or kind) brings its own picture and no answer:
      // read the room again. A status change alone is drawn at once.
      if (r.question !== room.question || r.kind !== room.kind) { refresh(); return; }
      if (r.status !== room.status) {
        room.status = r.status;
        draw();
      }
    },
    onAuthLost: () => removed(),
    // Whether the phone hears the room now (tests wait for 'live').
    onStatus: (s) => { root.dataset.live = s; },
  });
  live.start();
}

const savedEl = h('p', { id: 'saved', class: 'saved', role: 'status' });
/**
 * note tells the pupil how their answer is doing.
 * @param {string} text
 * @param {'saved' | 'error' | 'busy'} [kind] busy: not stored yet, being sent again
 */
function note(text, kind = 'saved') {
  savedEl.textContent = text;
  savedEl.className = kind;
  if (text && kind === 'saved') savedEl.dataset.ok = '1';
  else delete savedEl.dataset.ok;
}

/**
 * patiently runs a request made with retry, telling the pupil each time
 * the client waits to send it again: busy when the servers said when to
 * come back (a node shedding a class's flood), no connection otherwise.
 * @template T
 * @param {() => Promise<T>} request
 * @param {(text: string) => void} tell
 * @returns {Promise<T>}
 */
async function patiently(request, tell) {
  const off = client.onEvent((ev) => {
    if (ev.type === 'retrying') tell(t(ev.busy ? 'join.busy' : 'join.unreachable'));
  });
  try {
    return await request();
  } finally {
    off();
  }
}

function draw() {
  const head = h('p', { class: 'who' }, `${t('join.hello')} `, h('strong', { id: 'me' }, room.name || t('join.anonymous')));
  const leave = h('button', { class: 'leave', onclick: () => { save(null); room = null; showJoin(); } }, t('join.leave'));
  clear(root).append(head);
  root.dataset.status = room.status;
  root.dataset.kind = room.kind;
  if (room.status === 'ended') {
    follow(null);
    save(null);
    root.append(h('p', { id: 'status', class: 'status' }, t('join.ended')),
      h('button', { class: 'primary', onclick: () => { room = null; showJoin(); } }, t('join.again')));
    return;
  }
  if (room.status !== 'open') root.append(h('p', { id: 'status', class: 'status' }, t(`join.${room.status}`)));
  const open = room.status === 'open';
  if (room.kind === 'poll') drawPoll(open);
  else if (room.kind === 'markers') drawMarkers(open);
  else drawAnswer(open);
  root.append(savedEl, leave);
}

/** @type {Promise<boolean>} the last answer sent, settled once it is stored or refused */
let sending = Promise.resolve(true);

/**
 * send stores an answer. Answers go one after another: one waiting to be
 * sent again (a busy node, a failover) is never overtaken by a later tap,
 * which would then be overwritten by the earlier answer.
 * @param {any} body
 * @returns {Promise<boolean>}
 */
function send(body) {
  sending = sending.then(() => sendNow(body));
  return sending;
}

/** @param {any} body */
async function sendNow(body) {
  note('');
  try {
    // The same answer twice is harmless: keep trying through a failover
    // or a node's "come back in a moment".
    await patiently(() => api('PUT', `/api/v1/rooms/${encodeURIComponent(pupil ? pupil.room_id : '')}/answer`, { body, retry: true }),
      (text) => note(text, 'busy'));
    if (room) room.answer = body;
    note(t('join.saved'));
    return true;
  } catch (err) {
    note(explain(err), 'error');
    if (err instanceof ApiError && (err.status === 401 || err.status === 404)) removed();
    else if (err instanceof ApiError && err.code === 'activity_closed') refresh();
    return false;
  }
}

/** @param {boolean} open */
function drawPoll(open) {
  const box = h('div', { class: 'options', role: 'group', 'aria-label': t('join.pick') });
  const mine = room.answer && room.answer.choice;
  room.options.forEach((/** @type {string} */ o, /** @type {number} */ i) => {
    const b = h('button', {
      class: mine === i ? 'chosen' : '', dataset: { choice: i }, 'aria-pressed': String(mine === i), disabled: !open,
      onclick: async () => {
        if (await send({ choice: i })) for (const x of box.children) x.classList.toggle('chosen', x === b);
      },
    }, h('span', { class: 'letter' }, 'ABCDEF'[i]), o || null);
    box.append(b);
  });
  root.append(h('h1', {}, t('join.pick')), box);
}

/** @param {boolean} open */
function drawMarkers(open) {
  // With a picture the area is exactly the picture, so a tap's position is
  // the same fraction of it as on the board.
  const area = h('div', { id: 'tap', class: room.picture ? 'tap with-picture' : 'tap', role: 'button', 'aria-label': t('join.tap') });
  if (room.picture) area.append(h('img', { src: room.picture, alt: '' }));
  // Up to max markers: each tap adds one; once there are max, a tap moves
  // the oldest. With one, a tap moves it (and sends a single marker, as
  // before markers could be many).
  const max = room.max_markers || 1;
  const pins = Array.from({ length: max }, () => h('div', { class: 'pin', hidden: true }));
  pins[0].id = 'pin';
  area.append(...pins);
  /** @type {{x: number, y: number}[]} */
  let mine = [];
  if (room.answer) mine = room.answer.markers || (room.answer.marker ? [room.answer.marker] : []);
  /** @param {{x: number, y: number}[]} ms */
  const place = (ms) => {
    pins.forEach((pin, i) => {
      pin.hidden = i >= ms.length;
      if (i < ms.length) { pin.style.left = `${ms[i].x * 100}%`; pin.style.top = `${ms[i].y * 100}%`; }
    });
    area.dataset.placed = String(ms.length);
  };
  place(mine);
  if (open) {
    area.addEventListener('click', async (e) => {
      const r = area.getBoundingClientRect();
      const m = { x: Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)), y: Math.min(1, Math.max(0, (e.clientY - r.top) / r.height)) };
      m.x = Math.round(m.x * 1000) / 1000;
      m.y = Math.round(m.y * 1000) / 1000;
      const next = [...mine, m].slice(-max);
      if (await send(max === 1 ? { marker: m } : { markers: next })) { mine = next; place(mine); }
    });
  }
  root.append(h('h1', {}, max === 1 ? t('join.tap') : t('join.tap_many', { n: max })), area);
}

/** @param {boolean} open */
function drawAnswer(open) {
  const input = /** @type {HTMLInputElement} */ (h('input', { id: 'answer', name: 'text', maxlength: '80', autocomplete: 'off', disabled: !open, value: (room.answer && room.answer.text) || '' }));
  const form = h('form', { onsubmit: (/** @type {Event} */ e) => { e.preventDefault(); send({ text: input.value }); } },
    h('label', { for: 'answer' }, t('join.type')), input,
    h('button', { id: 'send', class: 'primary', type: 'submit', disabled: !open }, t('join.send')));
  root.append(form);
}

start().catch((err) => showJoin(explain(err)));
