// The teacher app: a small hash router over views. Each view is a function
// (ctx) => element; ctx carries the API client and the session.
import { Client, Unreachable, backoff } from './client.js';
import { h, clear, languageSwitch } from './dom.js';
import { t, errorText } from './i18n.js';
import { registerWorker, forget } from './offline.js';
import { loginView, signupView, homeView, confirmView } from './teacher/account.js';
import { register as registerLessons } from './teacher/lessons.js';
import { forgotView, resetView } from './teacher/reset.js';
import { register as registerBoards } from './teacher/boards.js';
import { forgetDrafts } from './teacher/saver.js';

const TOKEN_KEY = 'classboard.token';
const app = document.getElementById('app');
const nav = document.getElementById('nav');
const banner = document.getElementById('banner');
nav.setAttribute('aria-label', t('common.main_menu'));

const client = new Client();
/** @type {(() => void)[]} what the view on screen stops when left */
let leaving = [];
const ctx = {
  client,
  teacher: null,
  go(route) { location.hash = route; },
  async signIn(session) {
    localStorage.setItem(TOKEN_KEY, session.token);
    client.token = session.token;
    ctx.teacher = session.teacher;
    renderNav();
  },
  // A view with work that is not saved yet sets leaveGuard: an async
  // (why: 'route' | 'logout') => may leave. onLeave registers what to stop
  // when the view is left.
  leaveGuard: null,
  onLeave(fn) { leaving.push(fn); },
  async signOut() {
    if (ctx.leaveGuard && !(await ctx.leaveGuard('logout'))) return;
    left();
    forgetDrafts();
    try { await client.request('DELETE', '/api/v1/sessions/current'); } catch { /* gone anyway */ }
    localStorage.removeItem(TOKEN_KEY);
    // Nothing of the teacher's stays in this browser's caches either.
    await forget().catch(() => {});
    client.token = null;
    ctx.teacher = null;
    renderNav();
    ctx.go('#/login');
  },
};

// Views register here; other modules add theirs with addRoute.
const routes = [
  { pattern: /^#\/login$/, view: loginView, public: true },
  { pattern: /^#\/signup$/, view: signupView, public: true },
  { pattern: /^#\/forgot$/, view: forgotView, public: true },
  // The link in the sign-up mail: <base>/confirm#token=...
  { pattern: /^#token=([A-Za-z0-9_-]+)$/, path: '/confirm', view: confirmView, public: true },
  // The link in the reset mail: <base>/reset#token=...
  { pattern: /^#token=([A-Za-z0-9_-]+)$/, view: resetView, public: true },
  { pattern: /^#?\/?$/, view: homeView },
];
export function addRoute(pattern, view, opts = {}) {
  routes.unshift({ pattern, view, ...opts });
}
ctx.addRoute = addRoute;

client.onEvent((ev) => {
  if (ev.type === 'unreachable') {
    // The app retries by itself where it can: the banner says so, and
    // does not ask the teacher to.
    banner.textContent = t('common.unreachable_retrying');
    banner.hidden = false;
  } else if (ev.type === 'ok') {
    banner.hidden = true;
  }
});

function renderNav() {
  clear(nav);
  if (ctx.teacher) {
    for (const item of ctx.navItems || []) nav.append(h('a', { href: item.href }, item.label));
    nav.append(h('span', { class: 'who', id: 'who' }, ctx.teacher.name));
  }
  nav.append(languageSwitch());
  if (ctx.teacher) nav.append(h('button', { class: 'link', id: 'logout', onclick: () => ctx.signOut() }, t('common.log_out')));
}

// Each view is titled after its heading, in the tab and for screen
// readers, and keeps that title when the heading changes (a form that
// becomes its confirmation).
function retitle() {
  const heading = app.querySelector('h1');
  const title = heading && heading.textContent ? `${heading.textContent} – classboard` : 'classboard';
  if (document.title !== title) document.title = title;
}
new MutationObserver(retitle).observe(app, { childList: true, subtree: true, characterData: true });

// After moving to another view, focus goes to its heading, so that a
// screen reader reads where the teacher is and the keyboard starts there.
let moved = false;
window.addEventListener('hashchange', () => { moved = true; });
function focusHeading() {
  if (!moved) return;
  moved = false;
  const heading = app.querySelector('h1');
  if (!heading || app.contains(document.activeElement)) return;
  heading.tabIndex = -1;
  heading.focus({ preventScroll: true });
}

let viewRetries = 0;

// left ends the view on screen: its guard and whatever it runs.
function left() {
  ctx.leaveGuard = null;
  for (const fn of leaving.splice(0)) fn();
}

// mayLeave asks the view on screen whether the hash change ev may go on.
// While it decides, the address shows the view again, so a teacher who
// stays is where the address says.
async function mayLeave(ev) {
  if (!ctx.leaveGuard || !ev || !ev.oldURL) return true;
  const target = location.hash;
  history.replaceState(null, '', new URL(ev.oldURL).hash || '#/');
  if (!(await ctx.leaveGuard('route'))) return false;
  history.replaceState(null, '', target);
  return true;
}

async function render(ev) {
  if (!(await mayLeave(ev))) return;
  left();
  const hash = location.hash || '#/';
  const route = routes.find((r) => r.pattern.test(hash) && (!r.path || location.pathname === r.path)) || routes[routes.length - 1];
  if (!route.public && !ctx.teacher) {
    ctx.go('#/login');
    return;
  }
  const match = hash.match(route.pattern);
  try {
    const el = await route.view(ctx, match);
    clear(app).append(el);
    focusHeading();
    viewRetries = 0;
  } catch (err) {
    if (err instanceof Unreachable) {
      // No server answered: load the view again by itself, a little later
      // each time; the banner says what is going on.
      clear(app).append(h('p', { class: 'muted', id: 'view-retrying', role: 'status' }, t('common.loading_retrying')));
      const again = hash;
      setTimeout(() => { if ((location.hash || '#/') === again) render(); }, backoff(viewRetries++, 1000, 15000));
      return;
    }
    if (err.status === 401) {
      localStorage.removeItem(TOKEN_KEY);
      ctx.teacher = null;
      renderNav();
      ctx.go('#/login');
      return;
    }
    clear(app).append(h('div', { class: 'card' }, h('h1', {}, t('common.went_wrong')), h('p', {}, errorText(err)),
      h('button', { onclick: render }, t('common.try_again'))));
  }
}

async function start() {
  await client.init();
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) {
    client.token = token;
    try {
      ctx.teacher = await client.request('GET', '/api/v1/me');
    } catch (err) {
      if (err instanceof Unreachable) {
        clear(app).append(h('p', { class: 'muted', id: 'view-retrying', role: 'status' }, t('common.loading_retrying')));
        setTimeout(start, backoff(viewRetries++, 1000, 15000));
        return;
      }
      localStorage.removeItem(TOKEN_KEY);
      client.token = null;
    }
  }
  renderNav();
  window.addEventListener('hashchange', render);
  await render();
}

registerWorker();
// Feature modules (lessons, boards) register their routes before start.
export const ready = Promise.resolve().then(async () => {
  registerLessons(ctx);
  registerBoards(ctx);
  await start();
});
