// The board app: full screen, no login. A new board registers and shows
// a code (and a QR code for phones) until a teacher pairs it; from then on
// it keeps its secret in local storage and shows what the teacher steers,
// through reloads, reboots and reconnects.
//
// With every node down it keeps showing the lesson (kept in the browser's
// cache with its pictures), says "offline" in a corner, and can be stepped
// on the board itself (arrow keys, a clicker's PageUp/PageDown, a swipe).
// When a node answers, the server's state is the truth again.
//
// The slide is the largest 16:9 box on the screen; what the board adds
// (the pairing banner, the timer, the connection state, the full-screen
// button) are small chips in the slide's own margins, which no slide
// content enters, so nothing ever covers the lesson.
import { Client, ApiError, Unreachable } from './client.js';
import { h, clear, languageSwitch } from './dom.js';
import { Live } from './live.js';
import { renderSlide } from './slide.js';
import { Pictures } from './pictures.js';
import { registerWorker, keep, kept, keepOnly, forget } from './offline.js';
import { activityOverlay } from './activity-board.js';
import { t, errorText } from './i18n.js';

const CREDS_KEY = 'classboard.board';
const root = document.getElementById('board');
const client = new Client();
const pictures = new Pictures(client, { offline: true });
// The mark shows after this long without a live connection: moving to
// another node after one dies takes about a second and is not "offline".
const OFFLINE_AFTER_MS = 4000;

let creds = null; // {board_id, board_secret}
let live = null;
let lesson = null; // the lesson shown, from /boards/{id}/lesson
let shown = null; // the state on screen
let codeTimer = null;
let clockTimer = null;
let unpairTimer = null;
let showingCode = false; // the code is on screen: the board waits to be paired
let offline = false; // no live connection for a while: the board may be stepped here
let offlineTimer = null;
let local = null; // {slide}: the slide stepped to on the board while offline
let backTimer = null;
// How long the full-screen button shows its words after the pointer last
// moved; then it is an icon in the corner.
const QUIET_AFTER_MS = 6000;

document.title = t('board.title');
// The connection state in words and colour (the dot), in a corner chip;
// after OFFLINE_AFTER_MS without a connection it says what the board does.
const connLabel = h('span', { class: 'conn-label' }, t('board.conn.connecting'));
const offlineMark = h('span', { id: 'offline', class: 'offline-mark', hidden: true }, t('board.offline'));
const indicator = h('div', { id: 'conn', class: 'conn connecting', role: 'status' }, connLabel, offlineMark);
const stage = h('div', { id: 'stage', class: 'stage' });
const banner = h('div', { id: 'banner', class: 'board-banner', hidden: true });
const timerEl = h('div', { id: 'timer', class: 'timer', hidden: true });
const fullscreenButton = h('button', { id: 'fullscreen', class: 'fullscreen', type: 'button', onclick: toggleFullscreen },
  fullscreenIcon(), h('span', { class: 'fullscreen-label' }));
const overlays = h('div', { id: 'overlays', class: 'overlays' }, banner, timerEl, indicator, fullscreenButton);
// The teacher's pointer: a dot over the slide, where the teacher drags on
// their preview of it.
const pointerEl = h('div', { id: 'pointer', class: 'pointer', hidden: true });
clear(root).append(stage, overlays, pointerEl);
const activity = activityOverlay(root, stage, () => api('GET', `/api/v1/boards/${encodeURIComponent(creds.board_id)}/activity`));

function api(method, path, opts = {}) {
  return client.request(method, path, { ...opts, token: creds && creds.board_secret });
}

function saveCreds(c) {
  creds = c;
  if (c) {
    localStorage.setItem(CREDS_KEY, JSON.stringify(c));
  } else {
    localStorage.removeItem(CREDS_KEY);
    forget().catch(() => {}); // a forgotten board keeps no lesson
  }
}

// fullscreenIcon draws four corners (no font on a board can be relied on
// to have a full-screen glyph).
function fullscreenIcon() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', 'fullscreen-icon');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', 'M3 9V3h6M15 3h6v6M21 15v6h-6M9 21H3v-6');
  path.setAttribute('fill', 'none');
  path.setAttribute('stroke', 'currentColor');
  path.setAttribute('stroke-width', '2.5');
  svg.append(path);
  return svg;
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
        if (err instanceof Unreachable && await showKept()) {
          // Every node is down: show the kept lesson; the live connection
          // keeps trying and lands on the server's state when one answers.
          follow();
          return;
        }
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
      message(t('board.connecting'));
    }
    follow();
  } catch (err) {
    message(err instanceof Unreachable ? t('board.unreachable') : errorText(err), 'hint error');
    setTimeout(start, 5000 + Math.random() * 5000);
  }
}

// showKept puts the kept lesson and state on screen, when there are some
// of this board's.
async function showKept() {
  const [l, s] = await Promise.all([kept('lesson'), kept('state')]).catch(() => [null, null]);
  if (!s || s.board_id !== creds.board_id) return false;
  lesson = l && l.id === s.lesson_id ? l : null;
  shown = s;
  paint();
  return true;
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
  hidePointer();
  local = null;
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

// appAddress is the teacher app's address as a teacher types it: the
// origin of the claim link (the server's own idea of where its app is),
// without "https://", which browsers add by themselves.
function appAddress(claimURL) {
  let origin = location.origin;
  try {
    if (claimURL) origin = new URL(claimURL).origin;
  } catch { /* the board's own origin serves the app too */ }
  return origin.replace(/^https:\/\//, '');
}

// showCode shows what to type where, in large type: the teacher app's
// address and the code, with a QR code of the claim link for phones; a
// new code replaces it by itself when it expires.
function showCode(p) {
  clear(stage).append(h('div', { class: 'pairing' },
    h('div', { class: 'pair-steps' },
      h('p', { class: 'pair-lead' }, t('board.pair.go_to')),
      h('p', { id: 'pair-address', class: 'pair-address' }, appAddress(p.claim_url)),
      h('p', { class: 'pair-lead' }, t('board.pair.enter_code')),
      h('div', { id: 'code', class: 'code', 'aria-label': t('board.pair.code') }, p.pairing_code.slice(0, 3), ' ', p.pairing_code.slice(3)),
      // Before pairing, the board's language can be picked on the board.
      h('p', { class: 'pair-lang' }, languageSwitch())),
    p.claim_qr ? h('div', { class: 'qr' },
      h('img', { id: 'qr', src: p.claim_qr, alt: t('board.pair.qr_alt'), 'data-claim-url': p.claim_url }),
      h('p', {}, t('board.pair.scan'))) : null));
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
      connLabel.textContent = t(`board.conn.${s}`);
      setOnline(s === 'live');
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
    case 'pointer':
      point(msg.pointer);
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
  if (!shown) message(t('board.waiting'));
  const left = Date.parse(board.paired_at) + 60000 - live.serverNow();
  clear(banner).append(h('span', { id: 'paired-with' }, t('board.paired_with', { name: board.teacher_name })));
  if (left > 0) {
    banner.append(h('button', { id: 'unpair', onclick: unpair }, t('board.unpair')));
  }
  banner.hidden = false;
  clearTimeout(unpairTimer);
  unpairTimer = setTimeout(() => { banner.hidden = true; }, Math.max(left, 8000));
}

async function unpair() {
  try {
    await api('DELETE', `/api/v1/boards/${encodeURIComponent(creds.board_id)}`);
  } catch (err) {
    banner.append(h('span', { class: 'error' }, ` ${err instanceof Unreachable ? t('board.unpair_unreachable') : errorText(err)}`));
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
  // The server's state replaces a slide stepped here, even one of the
  // same revision (the state a reconnect brings).
  if (shown && shown.revision >= state.revision && !local) return;
  if (!lesson || lesson.id !== state.lesson_id) {
    lesson = null;
    if (state.lesson_id) {
      try {
        // Retried until a node answers: the board has nothing better to do.
        lesson = await api('GET', `/api/v1/boards/${encodeURIComponent(creds.board_id)}/lesson`, { retry: true });
      } catch (err) {
        message(errorText(err), 'hint error');
        return;
      }
      // Every picture now, so a node's death later costs nothing on screen;
      // and the lesson kept for a full outage.
      pictures.retain(lesson.slides);
      pictures.preload(lesson.slides);
      keep('lesson', lesson).catch(() => {});
      keepOnly(lesson.slides.map((sl) => sl.media_id).filter(Boolean)).catch(() => {});
    }
  }
  if (local) backOnline();
  shown = state;
  keep('state', state).catch(() => {});
  paint();
}

// paint shows the state on screen: the server's, or a slide stepped here.
function paint() {
  const state = shown;
  const slideIndex = local ? local.slide : state.slide;
  stage.dataset.slide = String(slideIndex);
  stage.dataset.revision = String(state.revision);
  stage.dataset.local = String(Boolean(local));
  hidePointer(); // it pointed at what was on screen before
  if (state.blank && !local) {
    clear(stage).append(h('div', { id: 'blank', class: `blank ${state.blank_color === 'white' ? 'white' : 'black'}` }));
  } else if (!lesson) {
    message(t('board.waiting'));
  } else if (slideIndex >= lesson.slides.length) {
    message(t('board.slide_gone'));
  } else {
    // Markers go over the slide's picture, which comes after the slide.
    const onPicture = () => activity.redraw();
    clear(stage).append(h('div', { class: 'slide-frame' }, renderSlide(lesson.slides[slideIndex], { board: true, pictures, onPicture })));
    activity.redraw();
  }
  showTimer(state.timer);
}

// setOnline shows the offline mark once the live connection has been down
// for a while, and lets the board be stepped here meanwhile.
function setOnline(isLive) {
  clearTimeout(offlineTimer);
  if (isLive) {
    offline = false;
    offlineMark.hidden = true;
    connLabel.hidden = false;
    // The server sends its state first on every connection; one of the
    // revision already shown is not passed on, so the board returns to it
    // here.
    if (local && shown) {
      backOnline();
      paint();
    }
    return;
  }
  offlineTimer = setTimeout(() => {
    offline = true;
    offlineMark.hidden = false;
    connLabel.hidden = true;
  }, OFFLINE_AFTER_MS);
}

// backOnline ends local stepping and says on the board what happened.
function backOnline() {
  const was = local;
  local = null;
  // The teacher's state may still change as the connection catches up:
  // the banner names only what the board showed.
  clear(banner).append(h('span', { id: 'back-online' }, t('board.back_online', { slide: was.slide + 1 })));
  banner.hidden = false;
  clearTimeout(backTimer);
  backTimer = setTimeout(() => { banner.hidden = true; }, 10000);
}

// step moves the board by itself while no node answers.
function step(delta) {
  if (!offline || !shown || !lesson) return;
  const from = local ? local.slide : shown.slide;
  const to = Math.max(0, Math.min(lesson.slides.length - 1, from + delta));
  if (to === from && local) return;
  local = { slide: to };
  paint();
}

document.addEventListener('keydown', (e) => {
  if (e.key === 'ArrowRight' || e.key === 'PageDown' || e.key === ' ') { e.preventDefault(); step(1); }
  if (e.key === 'ArrowLeft' || e.key === 'PageUp') { e.preventDefault(); step(-1); }
});
let touchX = null;
document.addEventListener('touchstart', (e) => { touchX = e.changedTouches[0].clientX; }, { passive: true });
document.addEventListener('touchend', (e) => {
  if (touchX === null) return;
  const dx = e.changedTouches[0].clientX - touchX;
  touchX = null;
  if (Math.abs(dx) > 60) step(dx < 0 ? 1 : -1);
}, { passive: true });

// showTimer counts down against the server's clock; a paused timer shows
// the time it has left, standing still.
function showTimer(timer) {
  clearInterval(clockTimer);
  if (!timer) { timerEl.hidden = true; return; }
  const ends = Date.parse(timer.ends_at);
  const tick = () => {
    // Before the live connection (a board started offline) its own clock.
    const ms = timer.paused ? timer.remaining_ms : ends - (live ? live.serverNow() : Date.now());
    const left = Math.max(0, Math.ceil(ms / 1000));
    timerEl.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
    timerEl.classList.toggle('done', left === 0);
    if (left === 0) clearInterval(clockTimer);
  };
  tick();
  timerEl.classList.toggle('paused', Boolean(timer.paused));
  timerEl.hidden = false;
  if (!timer.paused) clockTimer = setInterval(tick, 250);
}

// point puts the teacher's pointer on the slide on screen (x and y from 0
// to 1 across and down it), or hides it. A dot that stops moving hides by
// itself after POINTER_IDLE_MS, in case the move that hid it was lost (the
// teacher's view repeats a held pointer more often than that).
const POINTER_IDLE_MS = 12000;
let pointerIdle = null;
function point(p) {
  const slide = stage.querySelector('.slide');
  if (!p || p.hidden || !slide || (shown && shown.blank && !local)) {
    hidePointer();
    return;
  }
  const r = slide.getBoundingClientRect();
  const box = root.getBoundingClientRect();
  pointerEl.style.left = `${r.left - box.left + p.x * r.width}px`;
  pointerEl.style.top = `${r.top - box.top + p.y * r.height}px`;
  Object.assign(pointerEl.dataset, { x: String(p.x), y: String(p.y) });
  pointerEl.hidden = false;
  clearTimeout(pointerIdle);
  pointerIdle = setTimeout(hidePointer, POINTER_IDLE_MS);
}

function hidePointer() {
  clearTimeout(pointerIdle);
  pointerEl.hidden = true;
}

// The full-screen button: where the browser can go full screen. Its words
// show while the pointer moves; then it is a quiet icon in the corner.
let quietTimer = null;
function showFullscreenButton() {
  fullscreenButton.hidden = !document.fullscreenEnabled;
  const label = t(document.fullscreenElement ? 'board.fullscreen_leave' : 'board.fullscreen');
  fullscreenButton.querySelector('.fullscreen-label').textContent = label;
  fullscreenButton.setAttribute('aria-label', label);
  fullscreenButton.classList.remove('quiet');
  clearTimeout(quietTimer);
  quietTimer = setTimeout(() => fullscreenButton.classList.add('quiet'), QUIET_AFTER_MS);
}
function toggleFullscreen() {
  const done = document.fullscreenElement ? document.exitFullscreen() : document.documentElement.requestFullscreen();
  done.catch(() => {}); // refused (no user gesture, a kiosk): the board is as it was
}
document.addEventListener('fullscreenchange', showFullscreenButton);
document.addEventListener('pointermove', () => { if (fullscreenButton.classList.contains('quiet')) showFullscreenButton(); }, { passive: true });
showFullscreenButton();

// A board must not fall asleep mid-lesson: it holds a screen wake lock
// where the browser has the API. The browser drops the lock whenever the
// page is hidden, so it is asked for again when the page shows, and on a
// touch or key (a browser may want one first). root's data-wake says how
// it went, for people and tests.
let wakeLock = null; // the lock, or the request for it on its way
async function keepAwake() {
  if (!navigator.wakeLock) {
    root.dataset.wake = 'unsupported';
    return;
  }
  if (wakeLock || document.visibilityState !== 'visible') return;
  wakeLock = navigator.wakeLock.request('screen');
  try {
    const lock = await wakeLock;
    wakeLock = lock;
    root.dataset.wake = 'held';
    lock.addEventListener('release', () => {
      wakeLock = null;
      root.dataset.wake = 'released';
    });
  } catch {
    wakeLock = null;
    root.dataset.wake = 'refused';
  }
}
document.addEventListener('visibilitychange', keepAwake);
document.addEventListener('pointerdown', keepAwake, { passive: true });
document.addEventListener('keydown', keepAwake);
keepAwake();

registerWorker();
start();
