// The API client both apps use. It fails over between the API origins the
// server lists: it starts at a random one and stays there while it answers;
// on a network error, a timeout or a 503 it moves to the next, trying each
// origin at most once per request (no ping-pong). A request that is not
// idempotent is only retried elsewhere when it carries an Idempotency-Key.

const ORIGINS_KEY = 'classboard.origins';

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || 'http_' + status;
    this.fields = e.fields || {};
    this.current = body && body.current;
    this.retryAfter = 0;
  }
}

// Unreachable means every origin failed once for this request.
export class Unreachable extends Error {
  constructor() {
    super('We cannot reach classboard right now. We keep trying.');
    this.code = 'unreachable';
  }
}

// LatencyTracker keeps recent request times so that timeouts follow the
// network: a 10 s answer can be normal on a school's network.
export class LatencyTracker {
  constructor({ initial = 15000, min = 4000, max = 45000, factor = 4, size = 50 } = {}) {
    Object.assign(this, { initial, min, max, factor, size });
    this.samples = [];
  }
  add(ms) {
    this.samples.push(ms);
    if (this.samples.length > this.size) this.samples.shift();
  }
  p95() {
    if (this.samples.length === 0) return null;
    const s = [...this.samples].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(s.length * 0.95))];
  }
  // Generous until there are a few samples, then a multiple of the p95.
  timeout() {
    if (this.samples.length < 5) return this.initial;
    return Math.max(this.min, Math.min(this.max, this.factor * this.p95()));
  }
}

export function randomKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return btoa(String.fromCharCode(...b)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export class Client {
  constructor({ storage = window.localStorage, pageOrigin = window.location.origin, fetchImpl } = {}) {
    this.storage = storage;
    this.fetch = fetchImpl || window.fetch.bind(window);
    this.origins = this.loadOrigins(pageOrigin);
    this.index = Math.floor(Math.random() * this.origins.length);
    this.latency = new LatencyTracker();
    this.token = null;
    this.listeners = new Set();
  }

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

  onEvent(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); }
  emit(ev) { for (const fn of this.listeners) fn(ev); }

  // request sends one API call. opts: body (object, or a Blob/File with
  // contentType), headers, idempotencyKey (true makes one), auth (false to
  // omit the token), onProgress for uploads.
  async request(method, path, opts = {}) {
    const headers = { ...(opts.headers || {}) };
    let body;
    if (opts.body instanceof Blob) {
      body = opts.body;
      headers['Content-Type'] = opts.contentType || opts.body.type || 'application/octet-stream';
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['Content-Type'] = 'application/json';
    }
    if (opts.idempotencyKey) headers['Idempotency-Key'] = opts.idempotencyKey === true ? randomKey() : opts.idempotencyKey;
    const token = opts.token || (opts.auth === false ? null : this.token);
    if (token) headers['Authorization'] = 'Bearer ' + token;
    const retriable = method !== 'POST' || Boolean(headers['Idempotency-Key']);

    const tries = retriable ? this.origins.length : 1;
    for (let attempt = 0; attempt < tries; attempt++) {
      const origin = this.origin();
      const started = performance.now();
      let res;
      try {
        res = await this.send(origin, method, path, headers, body, opts.onProgress);
      } catch (err) {
        if (err.name === 'AbortError' && opts.signal && opts.signal.aborted) throw err;
        this.advance();
        continue;
      }
      this.latency.add(performance.now() - started);
      if (res.status === 503 && attempt < tries - 1) {
        this.advance();
        continue;
      }
      this.emit({ type: 'ok', origin });
      return this.parse(res);
    }
    this.emit({ type: 'unreachable' });
    throw new Unreachable();
  }

  async send(origin, method, path, headers, body, onProgress) {
    const timeout = this.latency.timeout();
    if (onProgress && body instanceof Blob) return this.xhr(origin, method, path, headers, body, onProgress, timeout);
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), timeout);
    try {
      return await this.fetch(origin + path, { method, headers, body, signal: ctl.signal, mode: 'cors', credentials: 'omit' });
    } finally {
      clearTimeout(timer);
    }
  }

  // xhr is fetch with upload progress, which fetch cannot report.
  xhr(origin, method, path, headers, body, onProgress, timeout) {
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open(method, origin + path);
      for (const [k, v] of Object.entries(headers)) x.setRequestHeader(k, v);
      // Uploads take as long as the network needs; only silence aborts them.
      x.timeout = Math.max(timeout, 120000);
      x.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
      x.onload = () => resolve(new Response(x.responseText, { status: x.status, headers: { 'Content-Type': x.getResponseHeader('Content-Type') || '' } }));
      x.onerror = () => reject(new TypeError('network error'));
      x.ontimeout = () => reject(new TypeError('timeout'));
      x.send(body);
    });
  }

  async parse(res) {
    if (res.status === 204) return null;
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
