// The board app: full screen, no login. A new board registers and shows
// a code (and a QR code for phones) until a teacher pairs it; from then on
// it keeps its secret in local storage and shows what the teacher steers,
// through reloads, reboots and reconnects.
import { Client, ApiError } from './client.js';
import { h, clear } from './dom.js';
import { Live } from './live.js';
import { renderSlide } from './slide.js';
import { activityOverlay } from './activity-board.js';

const CREDS_KEY = 'classboard.board';
const root = document.getElementById('board');
const client = new Client();

let creds = null; // {board_id, board_secret}
let live = null;
let lesson = null; // the lesson shown, from /boards/{id}/lesson
let shown = null; // the state on screen
let codeTimer = null;
let clockTimer = null;
let unpairTimer = null;
let showingCode = false; // the code is on screen: the board waits to be paired

const indicator = h('div', { id: 'conn', class: 'conn connecting', title: 'Connecting' });
const stage = h('div', { id: 'stage', class: 'stage' });
const banner = h('div', { id: 'banner', class: 'board-banner', hidden: true });
const timerEl = h('div', { id: 'timer', class: 'timer', hidden: true });
clear(root).append(stage, banner, timerEl, indicator);
const activity = activityOverlay(root, stage, () => api('GET', `/api/v1/boards/${encodeURIComponent(creds.board_id)}/activity`));

function api(method, path, opts = {}) {
  return client.request(method, path, { ...opts, token: creds && creds.board_secret });
}

function saveCreds(c) {
  creds = c;
  if (c) localStorage.setItem(CREDS_KEY, JSON.stringify(c));
  else localStorage.removeItem(CREDS_KEY);
}

function message(text, cls = 'hint') {
  clear(stage).append(h('p', { class: cls }, text));
}

// start finds out who this board is and what it shows, then follows it.
async function start() {
  stopAll();
  try {
    await client.init();
    creds = JSON.parse(localStorage.getItem(CREDS_KEY) || 'null');
    let board = null;
    if (creds) {
      try {
        board = await api('GET', `/api/v1/boards/${encodeURIComponent(creds.board_id)}`);
      } catch (err) {
        if (!(err instanceof ApiError) || (err.status !== 401 && err.status !== 404)) throw err;
        saveCreds(null); // forgotten, or expired unpaired: register again
      }
    }
    if (!board) {
      const reg = await api('POST', '/api/v1/boards');
      saveCreds({ board_id: reg.board_id, board_secret: reg.board_secret });
      showCode(reg);
    } else if (!board.paired) {
      await newCode();
    } else {
      message('Connecting…');
    }
    follow();
  } catch (err) {
    message(err.message || 'Cannot reach classboard. Trying again…', 'hint error');
    setTimeout(start, 5000 + Math.random() * 5000);
  }
}

function stopAll() {
  if (live) live.stop();
  live = null;
  lesson = null;
  shown = null;
  latest = null;
  clearTimeout(codeTimer);
  clearInterval(clockTimer);
  clearTimeout(unpairTimer);
  showingCode = false;
  banner.hidden = true;
  timerEl.hidden = true;
}

// newCode asks for a fresh code for this unpaired board.
async function newCode() {
  try {
    showCode(await api('POST', `/api/v1/boards/${encodeURIComponent(creds.board_id)}/pairing-code`));
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 404)) { start(); return; }
    if (err instanceof ApiError && err.status === 409) return; // paired meanwhile: the live message follows
    codeTimer = setTimeout(newCode, 5000 + Math.random() * 5000);
  }
}

// showCode shows the code very large and a QR code of the claim link; a
// new code replaces it by itself when it expires.
function showCode(p) {
  const origin = location.origin;
  clear(stage).append(h('div', { class: 'pairing' },
    h('p', { class: 'pair-lead' }, 'To show your lessons here, open classboard on your device and enter'),
    h('div', { id: 'code', class: 'code', 'aria-label': 'Pairing code' }, p.pairing_code.slice(0, 3), ' ', p.pairing_code.slice(3)),
    p.claim_qr ? h('div', { class: 'qr' },
      h('img', { id: 'qr', src: p.claim_qr, alt: 'QR code: scan it to pair this board', 'data-claim-url': p.claim_url }),
      h('p', {}, 'or scan this with your phone')) : null,
    h('p', { class: 'pair-where' }, origin)));
  showingCode = true;
  const wait = Date.parse(p.code_expires_at) - Date.now();
  clearTimeout(codeTimer);
  codeTimer = setTimeout(newCode, Math.max(1000, wait));
}

function follow() {
  live = new Live(client, {
    boardId: creds.board_id,
    token: creds.board_secret,
    onStatus: (s, transport) => {
      indicator.className = `conn ${s}`;
      indicator.dataset.transport = transport;
      indicator.title = { live: 'Connected', connecting: 'Connecting', offline: 'Offline: showing the last state' }[s];
    },
    onMessage: onLive,
    onAuthLost: () => start(),
  });
  live.start();
}

function onLive(msg) {
  switch (msg.type) {
    case 'paired':
      clearTimeout(codeTimer);
      if (showingCode) showPaired();
      break;
    case 'state':
      // A board paired while it was offline learns it from its first state.
      if (showingCode) {
        clearTimeout(codeTimer);
        showPaired();
      }
      show(msg.state);
      break;
    case 'activity':
      activity.show(msg.activity);
      break;
    case 'unpaired':
      activity.show({ status: 'none' });
      saveCreds(null);
      start();
      break;
    default:
  }
}

// showPaired says who paired the board and, for the rest of the first
// minute, offers "not you? unpair".
async function showPaired() {
  showingCode = false;
  let board;
  try {
    board = await api('GET', `/api/v1/boards/${encodeURIComponent(creds.board_id)}`);
  } catch {
    return;
  }
  if (!shown) message('Waiting for the teacher to pick a lesson…');
  const left = Date.parse(board.paired_at) + 60000 - live.serverNow();
  clear(banner).append(h('span', { id: 'paired-with' }, `Paired with ${board.teacher_name}`));
  if (left > 0) {
    banner.append(h('button', { id: 'unpair', onclick: unpair }, 'Not you? Unpair'));
  }
  banner.hidden = false;
  clearTimeout(unpairTimer);
  unpairTimer = setTimeout(() => { banner.hidden = true; }, Math.max(left, 8000));
}

async function unpair() {
  try {
    await api('DELETE', `/api/v1/boards/${encodeURIComponent(creds.board_id)}`);
  } catch (err) {
    banner.append(h('span', { class: 'error' }, ` ${err.message}`));
    return;
  }
  saveCreds(null);
  start();
}

// show puts a state on screen, one at a time and always the newest (a
// lesson may take a moment to load). The last state stays on screen
// while reconnecting, and the revision on screen is not drawn again.
let latest = null;
let drawing = false;
async function show(state) {
  latest = state;
  if (drawing) return;
  drawing = true;
  try {
    while (latest) {
      const next = latest;
      latest = null;
      await draw(next);
    }
  } finally {
    drawing = false;
  }
}

async function draw(state) {
  if (shown && shown.revision >= state.revision) return;
  if (!lesson || lesson.id !== state.lesson_id) {
    lesson = null;
    if (state.lesson_id) {
      try {
        lesson = await api('GET', `/api/v1/boards/${encodeURIComponent(creds.board_id)}/lesson`);
      } catch (err) {
        message(err.message, 'hint error');
        return;
      }
    }
  }
  shown = state;
  stage.dataset.slide = String(state.slide);
  stage.dataset.revision = String(state.revision);
  if (state.blank) {
    clear(stage).append(h('div', { id: 'blank', class: 'blank' }));
  } else if (!lesson) {
    message('Waiting for the teacher to pick a lesson…');
  } else if (state.slide >= lesson.slides.length) {
    message('This slide no longer exists.');
  } else {
    const slide = lesson.slides[state.slide];
    clear(stage).append(h('div', { class: 'slide-frame' }, renderSlide(slide, { board: true, mediaURL: () => slide.src })));
    preload(lesson.slides[state.slide + 1]);
    activity.redraw();
  }
  showTimer(state.timer);
}

// preload fetches the next slide's picture, so "next" shows it at once.
function preload(slide) {
  if (slide && slide.src) {
    const img = new Image();
    img.src = slide.src;
  }
}

// showTimer counts down against the server's clock.
function showTimer(timer) {
  clearInterval(clockTimer);
  if (!timer) { timerEl.hidden = true; return; }
  const ends = Date.parse(timer.ends_at);
  const tick = () => {
    const left = Math.max(0, Math.round((ends - live.serverNow()) / 1000));
    timerEl.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
    timerEl.classList.toggle('done', left === 0);
    if (left === 0) clearInterval(clockTimer);
  };
  tick();
  timerEl.hidden = false;
  clockTimer = setInterval(tick, 250);
}

start();
