// The live connection both apps use to follow a board. It asks for a
// single-use ticket (a long-lived secret never goes in a URL), opens a
// websocket on the client's current origin, and falls back to server-sent
// events after repeated websocket failures (some school proxies break
// websockets). It reconnects with full-jitter exponential backoff, moving
// to the next origin after a failure or a "move" message, and lands on
// the current state every time: the server sends it first.
// @ts-check
import { ApiError, Unreachable, backoff, jitter } from './client.js';

/** @typedef {import('./client.js').Client} Client */
/** @typedef {'connecting' | 'live' | 'offline'} Status */

/**
 * A live message (docs/api.md): the board's state, a ping, "move" (go to
 * another node), "unpaired", and what else the server sends.
 * @typedef {{ type: string, server_time?: string, state?: { revision: number, [field: string]: any }, [field: string]: any }} Message
 */

/**
 * @typedef {object} LiveOptions
 * @property {string} [boardId] the board to follow, or
 * @property {{ ticket: string, live: string }} [paths] another live endpoint's ticket and connection paths (a pupil's room)
 * @property {string | null} token the bearer for the ticket: a session, a board secret or a pupil token
 * @property {(msg: Message) => void} onMessage
 * @property {(status: Status, transport: string) => void} [onStatus]
 * @property {(err: ApiError) => void} [onAuthLost] when the token no longer works
 */

const SILENCE_MS = 75000; // the server sends something every 25 s
const WS_FAILURES_BEFORE_SSE = 3;

export class Live {
  /**
   * @param {Client} client
   * @param {LiveOptions} opts
   */
  constructor(client, opts) {
    this.client = client;
    this.opts = opts;
    this.attempt = 0;
    this.wsFailures = 0;
    this.transport = 'websocket';
    this.offset = 0; // server clock minus ours, from server_time
    /** @type {number | null | undefined} */
    this.lastRev = null;
    this.stopped = true;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.retryTimer = undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.silenceTimer = undefined;
    /** @type {WebSocket | EventSource | null} */
    this.socket = null;
    this.onOnline = () => { if (this.retryTimer) this.reconnectSoon(0); };
  }

  // serverNow is the server's clock as best known: boards' clocks drift.
  serverNow() { return Date.now() + this.offset; }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener('online', this.onOnline);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    clearTimeout(this.silenceTimer);
    this.closeSocket();
    this.status('offline');
  }

  /** @param {Status} s */
  status(s) {
    if (this.opts.onStatus) this.opts.onStatus(s, this.transport);
  }

  closeSocket() {
    const s = this.socket;
    this.socket = null;
    if (!s) return;
    s.onopen = s.onmessage = s.onerror = null;
    if (s instanceof WebSocket) s.onclose = null;
    s.close();
  }

  async connect() {
    this.retryTimer = undefined;
    if (this.stopped) return;
    this.status('connecting');
    const boardId = encodeURIComponent(this.opts.boardId || '');
    const paths = this.opts.paths || { ticket: '/api/v1/live-tickets', live: `/api/v1/boards/${boardId}/live` };
    let ticket;
    try {
      ticket = await this.client.request('POST', paths.ticket, {
        body: this.opts.paths ? undefined : { board_id: this.opts.boardId }, token: this.opts.token,
      });
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 404)) {
        this.stop();
        if (this.opts.onAuthLost) this.opts.onAuthLost(err);
        return;
      }
      if (err instanceof Unreachable && err.retryAfterMs) {
        // Every node answered "not now" (an election): come back when they
        // say, without growing the backoff.
        this.status('connecting');
        this.reconnectSoon(jitter(err.retryAfterMs));
        return;
      }
      this.failed(false, false); // the client moved on already
      return;
    }
    if (this.stopped) return;
    const url = `${this.client.origin()}${paths.live}?ticket=${encodeURIComponent(ticket.ticket)}`;
    const useWS = this.transport === 'websocket' && typeof WebSocket === 'function';
    let socket;
    try {
      socket = useWS ? new WebSocket(url.replace(/^http/, 'ws')) : new EventSource(url);
    } catch {
      this.failed(useWS);
      return;
    }
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.attempt = 0;
      if (useWS) this.wsFailures = 0;
      this.status('live');
    };
    socket.onmessage = (ev) => {
      this.armSilence();
      this.receive(ev.data);
    };
    // EventSource reconnects by itself with the same URL, but a ticket
    // works once: every error is handled here, with a new ticket.
    socket.onerror = () => { if (!useWS) this.failed(false); };
    // An EventSource has no close event: its end is an error, above.
    if (socket instanceof WebSocket) socket.onclose = () => this.failed(!opened);
    this.armSilence();
  }

  // armSilence drops a connection that stays silent for SILENCE_MS: a
  // half-open TCP connection on a school network can look open for ages.
  armSilence() {
    clearTimeout(this.silenceTimer);
    this.silenceTimer = setTimeout(() => this.failed(false), SILENCE_MS);
  }

  /** @param {string} data */
  receive(data) {
    /** @type {Message} */
    let msg;
    try { msg = JSON.parse(data); } catch { return; }
    if (msg.server_time) {
      const t = Date.parse(msg.server_time);
      if (!Number.isNaN(t)) this.offset = t - Date.now();
    }
    switch (msg.type) {
      case 'ping':
        return;
      case 'move':
        // This node cannot serve us: go to the next origin at once (within
        // the first backoff round, so the moved clients do not all land in
        // the same instant).
        this.closeSocket();
        this.client.advance();
        this.reconnectSoon(backoff(0));
        return;
      case 'state':
        // A reconnect brings the state we show already: nothing to redraw.
        if (msg.state && msg.state.revision === this.lastRev) return;
        this.lastRev = msg.state && msg.state.revision;
        break;
      case 'unpaired':
      case 'removed': // a pupil the teacher removed
        this.stop();
        break;
      default:
    }
    this.opts.onMessage(msg);
  }

  /**
   * failed schedules a reconnect after a failed or ended connection,
   * moving to the next origin unless the client did already.
   * @param {boolean} wsNeverWorked a websocket closed before it opened
   * @param {boolean} [advance]
   */
  failed(wsNeverWorked, advance = true) {
    if (this.stopped) return;
    clearTimeout(this.silenceTimer);
    this.closeSocket();
    if (wsNeverWorked && ++this.wsFailures >= WS_FAILURES_BEFORE_SSE && typeof EventSource === 'function') {
      this.transport = 'sse';
    }
    if (advance) this.client.advance();
    this.status(this.attempt >= 2 ? 'offline' : 'connecting');
    this.reconnectSoon(backoff(this.attempt++));
  }

  /** @param {number} ms */
  reconnectSoon(ms) {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), ms);
  }
}
