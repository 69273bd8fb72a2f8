// The API client both apps use. It fails over between the API origins the
// server lists: it starts at a random one and stays there while it answers;
// on a network error, a timeout or a 503 it moves to the next, trying each
// origin at most once per request (no ping-pong), then reports that it
// cannot reach the service (and, with retry, tries again after a jittered
// backoff). A POST is only sent to another origin when it carries an
// Idempotency-Key. Timeouts follow the latency measured on this network.
// @ts-check

/**
 * The API's error shape (docs/api.md).
 * @typedef {{ error?: { code?: string, message?: string, fields?: Record<string, string> }, current?: any }} ErrorBody
 */

/**
 * Options of Client.request.
 * @typedef {object} RequestOptions
 * @property {any} [body] a JSON value, or a Blob/File sent as is
 * @property {string} [contentType] the Content-Type of a Blob body
 * @property {Record<string, string>} [headers]
 * @property {boolean | string} [idempotencyKey] true makes one
 * @property {string | null} [token] a bearer token instead of the client's
 * @property {boolean} [auth] false sends no token
 * @property {(fraction: number) => void} [onProgress] upload progress, 0 to 1
 * @property {AbortSignal} [signal] cancels the request and its retries
 * @property {boolean} [idempotent] a POST that is harmless twice
 * @property {boolean} [retry] keep trying after every origin failed
 * @property {boolean} [resendWhenBusy] with retry, also send again a request
 *   that is not safe twice (a POST without a key) when every origin tried
 *   answered 503 with Retry-After: what a person pressing again would do
 * @property {boolean} [raw] answer the body as a Blob (pictures, downloads)
 */

/**
 * What Client tells its listeners.
 * busy is set on 'retrying' when the servers answered 503 with Retry-After
 * (up, but told to come back), not when none answered.
 * @typedef {{ type: 'origin', origin: string } | { type: 'retrying', delay: number, busy: boolean } | { type: 'ok', origin: string } | { type: 'unreachable' }} ClientEvent
 */

const ORIGINS_KEY = 'classboard.origins';

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {ErrorBody | null} body
   */
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || 'http_' + status;
    this.fields = e.fields || {};
    this.current = body && body.current;
    /** Retry-After in seconds; 0 when absent. */
    this.retryAfter = 0;
  }
}

// Unreachable means every origin failed once for this request (network
// error, timeout or 503). retriable says whether sending it again is safe.
export class Unreachable extends Error {
  /**
   * retryAfterMs is set when every origin answered 503 with Retry-After:
   * the servers are up and say when to come back (a cluster electing a new
   * leader after a node died), so waiting longer and longer would only
   * delay the teacher's action past the failover.
   * @param {unknown} [cause]
   * @param {boolean} [retriable]
   * @param {number} [retryAfterMs]
   */
  constructor(cause = null, retriable = true, retryAfterMs = 0) {
    // For developers: the apps say it in the user's language (error.unreachable).
    super('No API origin answered (network error, timeout or 503).');
    this.code = 'unreachable';
    this.cause = cause;
    this.retriable = retriable;
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * jitter spreads ms over [ms/2, 3ms/2) so clients told the same Retry-After
 * do not come back all at once.
 * @param {number} ms
 */
export function jitter(ms) {
  return ms * (0.5 + Math.random());
}

/**
 * backoff is full-jitter exponential: a random wait up to 0.5 s, doubling
 * each round up to 20 s, so that clients that lost the same node do not
 * all come back at the same instant.
 * @param {number} round 0 for the first wait
 * @param {number} [base] ms
 * @param {number} [cap] ms
 */
export function backoff(round, base = 500, cap = 20000) {
  return Math.random() * Math.min(cap, base * 2 ** round);
}

/**
 * @param {number} ms
 * @param {AbortSignal} [signal]
 * @returns {Promise<void>}
 */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    if (signal) signal.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason); }, { once: true });
  });
}

// LatencyTracker keeps recent request times so that timeouts follow the
// network: a 10 s answer can be normal on a school's network.
export class LatencyTracker {
  /** All in ms, but size: how many samples are kept. */
  constructor({ initial = 15000, min = 4000, max = 45000, factor = 4, size = 50 } = {}) {
    this.initial = initial;
    this.min = min;
    this.max = max;
    this.factor = factor;
    this.size = size;
    /** @type {number[]} */
    this.samples = [];
  }
  /** @param {number} ms */
  add(ms) {
    this.samples.push(ms);
    if (this.samples.length > this.size) this.samples.shift();
  }
  /** @returns {number | null} */
  p95() {
    if (this.samples.length === 0) return null;
    const s = [...this.samples].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(s.length * 0.95))];
  }
  // Generous until there are a few samples, then a multiple of the p95.
  timeout() {
    if (this.samples.length < 5) return this.initial;
    return Math.max(this.min, Math.min(this.max, this.factor * /** @type {number} */ (this.p95())));
  }
}

export function randomKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return btoa(String.fromCharCode(...b)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export class Client {
  /**
   * @param {{ storage?: Storage, pageOrigin?: string, fetchImpl?: typeof fetch }} [deps]
   */
  constructor({ storage = window.localStorage, pageOrigin = window.location.origin, fetchImpl } = {}) {
    this.storage = storage;
    this.fetch = fetchImpl || window.fetch.bind(window);
    /** @type {string[]} */
    this.origins = this.loadOrigins(pageOrigin);
    this.index = Math.floor(Math.random() * this.origins.length);
    this.latency = new LatencyTracker();
    /** @type {string | null} the teacher's session or the board's secret */
    this.token = null;
    /** @type {string | undefined} the server's version, from init */
    this.version = undefined;
    /** @type {Set<(ev: ClientEvent) => void>} */
    this.listeners = new Set();
  }

  /**
   * @param {string} pageOrigin
   * @returns {string[]}
   */
  loadOrigins(pageOrigin) {
    try {
      const saved = JSON.parse(this.storage.getItem(ORIGINS_KEY) || 'null');
      if (Array.isArray(saved) && saved.length > 0) return saved;
    } catch { /* a broken entry is replaced below */ }
    return [pageOrigin];
  }

  // init fetches the origin list, keeping it in local storage so the app
  // still finds the service when the origin that served the page is down.
  async init() {
    try {
      const cfg = await this.request('GET', '/api/v1/config');
      if (Array.isArray(cfg.api_origins) && cfg.api_origins.length > 0) {
        const same = JSON.stringify(cfg.api_origins) === JSON.stringify(this.origins);
        if (!same) {
          const cur = this.origin();
          this.origins = cfg.api_origins;
          const i = this.origins.indexOf(cur);
          this.index = i >= 0 ? i : Math.floor(Math.random() * this.origins.length);
        }
        this.storage.setItem(ORIGINS_KEY, JSON.stringify(this.origins));
      }
      this.version = cfg.version;
    } catch (e) {
      if (!(e instanceof Unreachable)) throw e;
      // Keep the saved list; requests will try it.
    }
  }

  origin() { return this.origins[this.index % this.origins.length]; }

  // advance moves to the next origin after a failure.
  advance() {
    this.index = (this.index + 1) % this.origins.length;
    this.emit({ type: 'origin', origin: this.origin() });
  }

  /** @param {(ev: ClientEvent) => void} fn */
  onEvent(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); }
  /** @param {ClientEvent} ev */
  emit(ev) { for (const fn of this.listeners) fn(ev); }

  /**
   * request sends one API call. opts: body (object, or a Blob/File with
   * contentType), raw (answer a Blob, not JSON: pictures, downloads),
   * headers, idempotencyKey (true makes one), auth (false to
   * omit the token), onProgress for uploads, signal to cancel, idempotent
   * (a POST that is harmless twice, such as signing in), and retry:
   * when every origin failed, wait (full-jitter exponential backoff) and
   * try them all again until one answers or signal aborts, so that a
   * teacher's action outlasts a failover (an election takes 4-9 s).
   * @param {string} method
   * @param {string} path from /api/v1
   * @param {RequestOptions} [opts]
   * @returns {Promise<any>} the decoded JSON answer (a Blob with raw), null for 204
   */
  async request(method, path, opts = {}) {
    /** @type {Record<string, string>} */
    const headers = { ...(opts.headers || {}) };
    /** @type {BodyInit | undefined} */
    let body;
    if (opts.body instanceof Blob) {
      body = opts.body;
      headers['Content-Type'] = opts.contentType || opts.body.type || 'application/octet-stream';
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['Content-Type'] = 'application/json';
    }
    // One key for every attempt, so a write that succeeded just before its
    // node died is answered from the first result, not applied twice.
    if (opts.idempotencyKey) headers['Idempotency-Key'] = opts.idempotencyKey === true ? randomKey() : opts.idempotencyKey;
    const token = opts.token || (opts.auth === false ? null : this.token);
    if (token) headers['Authorization'] = 'Bearer ' + token;
    for (let round = 0; ; round++) {
      try {
        return await this.once(method, path, headers, body, opts);
      } catch (err) {
        if (!(err instanceof Unreachable) || !opts.retry) throw err;
        if (!err.retriable && !(opts.resendWhenBusy && err.retryAfterMs)) throw err;
        const delay = err.retryAfterMs ? jitter(err.retryAfterMs) : backoff(round);
        this.emit({ type: 'retrying', delay, busy: Boolean(err.retryAfterMs) });
        await sleep(delay, opts.signal);
      }
    }
  }

  /**
   * once tries each origin at most once, starting with the current one.
   * @param {string} method
   * @param {string} path
   * @param {Record<string, string>} headers
   * @param {BodyInit | undefined} body
   * @param {RequestOptions} opts
   */
  async once(method, path, headers, body, opts) {
    // A write without an Idempotency-Key may have been applied by a node
    // that then failed to answer: it is never sent twice.
    const retriable = opts.idempotent || method === 'GET' || method === 'PUT' || method === 'DELETE' || Boolean(headers['Idempotency-Key']);
    const tries = retriable ? this.origins.length : 1;
    let last = null;
    let busy = 0; // origins that answered 503
    let retryAfter = 0;
    for (let attempt = 0; attempt < tries; attempt++) {
      const origin = this.origin();
      const started = performance.now();
      let res;
      try {
        res = await this.send(origin, method, path, headers, body, opts.onProgress, opts.signal);
      } catch (err) {
        if (opts.signal && opts.signal.aborted) throw err;
        last = err;
        this.advance();
        continue;
      }
      if (res.status === 503) {
        last = new ApiError(503, null);
        busy++;
        retryAfter = Math.max(retryAfter, Number(res.headers.get('Retry-After') || 0) * 1000);
        this.advance();
        continue;
      }
      this.latency.add(performance.now() - started);
      this.emit({ type: 'ok', origin });
      return this.parse(res, opts.raw);
    }
    this.emit({ type: 'unreachable' });
    throw new Unreachable(last, retriable, busy === tries ? retryAfter : 0);
  }

  /**
   * @param {string} origin
   * @param {string} method
   * @param {string} path
   * @param {Record<string, string>} headers
   * @param {BodyInit | undefined} body
   * @param {((fraction: number) => void) | undefined} onProgress
   * @param {AbortSignal | undefined} signal
   * @returns {Promise<Response>}
   */
  async send(origin, method, path, headers, body, onProgress, signal) {
    const timeout = this.latency.timeout();
    if (onProgress && body instanceof Blob) return this.xhr(origin, method, path, headers, body, onProgress, timeout, signal);
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), timeout);
    const both = signal ? AbortSignal.any([signal, ctl.signal]) : ctl.signal;
    try {
      return await this.fetch(origin + path, { method, headers, body, signal: both, mode: 'cors', credentials: 'omit' });
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * xhr is fetch with upload progress, which fetch cannot report. Like
   * fetch it stops when signal aborts, and its answer keeps the headers
   * parse reads (Retry-After with Content-Type).
   * @param {string} origin
   * @param {string} method
   * @param {string} path
   * @param {Record<string, string>} headers
   * @param {Blob} body
   * @param {(fraction: number) => void} onProgress
   * @param {number} timeout ms
   * @param {AbortSignal | undefined} signal
   * @returns {Promise<Response>}
   */
  xhr(origin, method, path, headers, body, onProgress, timeout, signal) {
    return new Promise((resolve, reject) => {
      if (signal && signal.aborted) { reject(signal.reason); return; }
      const x = new XMLHttpRequest();
      const onAbort = () => x.abort();
      if (signal) signal.addEventListener('abort', onAbort, { once: true });
      const done = () => { if (signal) signal.removeEventListener('abort', onAbort); };
      x.open(method, origin + path);
      for (const [k, v] of Object.entries(headers)) x.setRequestHeader(k, v);
      // Uploads take as long as the network needs; only silence aborts them.
      x.timeout = Math.max(timeout, 120000);
      x.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
      x.onload = () => {
        done();
        /** @type {Record<string, string>} */
        const kept = {};
        for (const name of ['Content-Type', 'Retry-After']) {
          const v = x.getResponseHeader(name);
          if (v) kept[name] = v;
        }
        resolve(new Response(x.responseText, { status: x.status, headers: kept }));
      };
      x.onerror = () => { done(); reject(new TypeError('network error')); };
      x.ontimeout = () => { done(); reject(new TypeError('timeout')); };
      x.onabort = () => { done(); reject(signal && signal.aborted ? signal.reason : new TypeError('aborted')); };
      x.send(body);
    });
  }

  /**
   * @param {Response} res
   * @param {boolean} [raw] the body as a Blob rather than JSON
   */
  async parse(res, raw = false) {
    if (res.status === 204) return null;
    if (raw && res.ok) return res.blob();
    const text = await res.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch { data = null; }
    }
    if (!res.ok) {
      const err = new ApiError(res.status, data);
      err.retryAfter = Number(res.headers.get('Retry-After') || 0);
      throw err;
    }
    return data;
  }
}
