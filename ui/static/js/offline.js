// @ts-check
// What the apps keep in the browser for the time no node answers: the
// service worker keeps the app shell (see /sw.js), and the board keeps
// its current lesson, state and pictures here. Both need a secure context
// (https, or http on localhost): elsewhere the apps work as before, but a
// reload needs a node and the board shows nothing during a full outage.

// BOARD_CACHE holds the board's lesson data: personal data of the
// teacher's, kept only while the board is paired and dropped by forget().
const BOARD_CACHE = 'classboard-board';

export function registerWorker() {
  if (!('serviceWorker' in navigator)) return;
  // Without a worker the app still runs; only the offline reload is lost.
  navigator.serviceWorker.register('/sw.js').catch(() => {});
}

function available() { return typeof caches !== 'undefined'; }

/**
 * keep stores a value (an object as JSON, or a Blob) under a name.
 * @param {string} name
 * @param {unknown} value
 */
export async function keep(name, value) {
  if (!available()) return;
  const body = value instanceof Blob ? value : JSON.stringify(value);
  const c = await caches.open(BOARD_CACHE);
  await c.put(new Request('/kept/' + name), new Response(body));
}

/**
 * kept returns what keep stored (blob: as a Blob), or null.
 * @param {string} name
 * @param {{ blob?: boolean }} [opts]
 * @returns {Promise<any>}
 */
export async function kept(name, { blob = false } = {}) {
  if (!available()) return null;
  const res = await caches.match('/kept/' + name, { cacheName: BOARD_CACHE });
  if (!res) return null;
  return blob ? res.blob() : res.json();
}

/**
 * keepOnly drops the kept pictures whose media ids are not in ids, so a
 * board does not collect a school year of lessons.
 * @param {string[]} ids
 */
export async function keepOnly(ids) {
  if (!available()) return;
  const c = await caches.open(BOARD_CACHE);
  const keepIds = new Set(ids);
  for (const req of await c.keys()) {
    const m = new URL(req.url).pathname.match(/^\/kept\/media\/(.+)$/);
    if (m && !keepIds.has(m[1])) await c.delete(req);
  }
}

// forget drops everything kept: a forgotten board, or a teacher logging out
// on a shared computer, leaves no lesson behind.
export async function forget() {
  if (available()) await caches.delete(BOARD_CACHE);
}
