// The service worker of the board and teacher apps. It keeps the app shell
// (pages, scripts, styles, icons) of one version, so that a page reloads
// while the node that served it is down; the app then finds another node
// through the origin list it keeps. It never touches API calls, live
// connections or pictures: those go to the network as if it were not
// here (the board keeps its own lesson cache, see board.js).
//
// ui.go fills in VERSION and SHELL when the binary starts; a new version
// is a new script, which the browser installs on the next visit.
const VERSION = '__VERSION__';
const SHELL = __SHELL__;
const PAGES = __PAGES__;
const CACHE = 'classboard-shell-' + VERSION;
// A page load waits this long for its node before the kept copy is used:
// a node cut off by a network fault may never answer.
const NETWORK_MS = 4000;

self.addEventListener('install', (ev) => {
  ev.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (ev) => {
  ev.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith('classboard-shell-') && k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (ev) => {
  const req = ev.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.mode === 'navigate' && PAGES.includes(url.pathname)) {
    ev.respondWith(page(req, url.pathname));
  } else if (url.pathname.startsWith('/static/' + VERSION + '/')) {
    // Hashed names never change content: the kept copy is the file, for
    // any Origin header (module scripts send one, and the API's CORS
    // answers vary by it).
    ev.respondWith(caches.match(req, { cacheName: CACHE, ignoreVary: true }).then((hit) => hit || fetch(req)));
  }
});

// page is the network's answer while the node answers (so an upgrade shows
// at once), and the kept copy when it does not.
async function page(req, path) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), NETWORK_MS);
  try {
    return await fetch(req, { signal: ctl.signal });
  } catch (err) {
    const hit = await caches.match(path, { cacheName: CACHE, ignoreVary: true });
    if (hit) return hit;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
