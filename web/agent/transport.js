// The agent console's connection to its session (docs/protocol.md): the WebSocket to
// /ws/agent, the envelope of what the console sends, the order of what the customer sends
// (changes count only after a snapshot, and a gap means asking for a fresh one), the
// snapshot's binary chunks gathered until its `snapshot` message, keepalive, and reconnecting
// with backoff. What a message means is its listeners' business (app.js, control.js).
//
//   const transport = new Transport({ maxSnapshotBytes, wantsSnapshot });
//   transport.on('session', (m) => …)   // a message by its `t`, as it arrives
//   transport.on('change', (m) => …)    // a customer change, in sequence after a snapshot
//   transport.open(id); transport.send('exit'); transport.resync('why');

/** A message on the wire: the envelope and the payload beside it. */
/** @typedef {{v?: number, t: string, s?: number, [field: string]: any}} Message */
/** A message the customer sent, relayed: it carries its sequence number. */
/** @typedef {Message & {s: number}} Relayed */
/** How a connection ended: its close code, and the last `error` the server sent on it. */
/** @typedef {{code: number, error: Message | null}} Closed */
/** A complete snapshot: its message and its chunks, in order. */
/** @typedef {{m: Message, parts: Uint8Array<ArrayBuffer>[]}} Snapshot */

/** No snapshot asked for again sooner than this after the last ask. */
const RESYNC_GAP_MS = 5000;
/** A snapshot expected for this long without coming is asked for again. */
const SNAPSHOT_WAIT_MS = 4000;
const PING_MS = 25000;

export class Transport {
  /**
   * @param {{maxSnapshotBytes: number, wantsSnapshot: () => boolean}} o `maxSnapshotBytes`: the
   *   bound on a snapshot's compressed chunks; `wantsSnapshot`: whether a snapshot that does not
   *   come should be asked for (the session is joined and the customer there).
   */
  constructor({ maxSnapshotBytes, wantsSnapshot }) {
    this.maxSnapshotBytes = maxSnapshotBytes;
    /** @type {Map<string, Set<(x: any) => void>>} */
    this.subs = new Map();
    /** The last messages seen, shortened, for debugging. */
    /** @type {string[]} */
    this.trace = [];
    /** @type {WebSocket | null} */
    this.ws = null;
    /** The session connected to, '' when none. */
    this.id = '';
    /** A `session` message came since `open`: a close is then network trouble, not a refusal. */
    this.joined = false;
    this.tries = 0;
    this.sent = 0;
    /** @type {Message | null} */
    this.lastError = null;
    /** The sequence number of the customer's last message; whether a snapshot is awaited. */
    this.last = 0;
    this.waiting = true;
    this.waitSince = Date.now();
    this.resyncAt = 0;
    /** Chunks of the next snapshot, `[s, bytes]`, and their size. */
    /** @type {[number, Uint8Array<ArrayBuffer>][]} */
    this.chunks = [];
    this.chunkBytes = 0;
    // A snapshot that does not come (lost, or sent before we were attached) is asked for again.
    setInterval(() => {
      const late = Date.now() - this.waitSince > SNAPSHOT_WAIT_MS;
      if (this.waiting && wantsSnapshot() && late) this.resync('no snapshot yet');
    }, 1000);
    setInterval(() => this.openSocket()?.send('{"v":1,"t":"ping"}'), PING_MS);
  }

  /**
   * Listens to `type`: a message's `t` (server messages, and the customer's `page` and
   * `notice`, as they arrive), `change` (a customer change in sequence), `canvas`
   * (`{id, bytes}`, in sequence), `snapshot` (a {@link Snapshot}), `oversize` (a snapshot's
   * chunks passed `maxSnapshotBytes`) or `close` (a {@link Closed}). Returns the way to stop.
   * @param {string} type
   * @param {(x: any) => void} fn
   * @returns {() => void}
   */
  on(type, fn) {
    const set = this.subs.get(type) || new Set();
    this.subs.set(type, set.add(fn));
    return () => set.delete(fn);
  }

  /** @param {string} type @param {any} x */
  emit(type, x) {
    for (const fn of this.subs.get(type) || []) {
      try {
        fn(x);
      } catch (e) {
        console.error(e);
      }
    }
  }

  /** Whether a connection is open or on its way. */
  get active() {
    return this.ws !== null;
  }

  /** The connection when it is open, else null. @returns {WebSocket | null} */
  openSocket() {
    return this.ws && this.ws.readyState === WebSocket.OPEN ? this.ws : null;
  }

  /** Connects to session `id` afresh (backoff and joined state forgotten). @param {string} id */
  open(id) {
    this.id = id;
    this.joined = false;
    this.tries = 0;
    this.connect();
  }

  /** Lets go of the session: no close is reported, nothing reconnects. */
  close() {
    this.id = '';
    this.joined = false;
    const s = this.ws;
    this.ws = null;
    if (s) {
      try {
        s.close();
      } catch {}
    }
  }

  /**
   * Connects again after a close that was not final: after the first join up to three more
   * times, quickly; in a session without end, backing off up to 8 s. Returns false when a
   * join has been tried enough.
   */
  retry() {
    const id = this.id;
    let delay;
    if (this.joined) delay = Math.min(8000, 500 * 2 ** this.tries++);
    else if (this.tries++ < 3) delay = 400 * this.tries;
    else return false;
    setTimeout(() => this.id === id && !this.ws && this.connect(), delay);
    return true;
  }

  /**
   * Sends `{v, t, s, ...fields}` on the session's connection; false when it is not open.
   * @param {string} t
   * @param {object} [fields]
   */
  send(t, fields = {}) {
    const ws = this.openSocket();
    if (!ws) return false;
    ws.send(JSON.stringify({ v: 1, t, s: ++this.sent, ...fields }));
    return true;
  }

  /**
   * Asks the customer for a fresh snapshot and ignores changes until it comes; not twice
   * within a few seconds (a page in trouble would be asked without end).
   * @param {string} why
   */
  resync(why) {
    if (!this.waiting) {
      this.waiting = true;
      this.waitSince = Date.now();
    }
    if (Date.now() - this.resyncAt < RESYNC_GAP_MS) return;
    this.resyncAt = Date.now();
    console.warn('cobrowse: resync,', why);
    this.send('resync');
  }

  /** Asks for a fresh snapshot now, however recently one was asked for. @param {string} why */
  resyncNow(why) {
    this.resyncAt = 0;
    this.resync(why);
  }

  /** Asks for no snapshot for `ms` (after a refusal: a page that sends too much gains nothing by sending again). @param {number} ms */
  holdResync(ms) {
    this.resyncAt = Date.now() + ms;
  }

  /** Changes wait for a snapshot from now on (the customer's page is back). */
  expectSnapshot() {
    this.waiting = true;
    this.waitSince = Date.now();
  }

  connect() {
    const url =
      location.origin.replace(/^http/, 'ws') +
      '/ws/agent?v=1&session=' +
      encodeURIComponent(this.id);
    const s = new WebSocket(url);
    this.ws = s;
    s.binaryType = 'arraybuffer';
    this.sent = 0;
    this.waiting = true;
    this.waitSince = Date.now();
    this.chunks = [];
    this.lastError = null;
    s.onmessage = (e) => {
      if (this.ws !== s) return;
      this.note(typeof e.data === 'string' ? e.data.slice(0, 100) : 'binary ' + e.data.byteLength);
      if (typeof e.data !== 'string') return this.binary(new Uint8Array(e.data));
      let m;
      try {
        m = JSON.parse(e.data);
      } catch {
        return;
      }
      this.message(m);
    };
    s.onclose = (e) => {
      if (this.ws !== s) return;
      this.ws = null;
      this.emit('close', { code: e.code, error: this.lastError });
    };
  }

  /** @param {string} x */
  note(x) {
    this.trace.push(x);
    if (this.trace.length > 60) this.trace.shift();
  }

  /** A text message: the server's own carry no `s`; the customer's do. @param {Message} m */
  message(m) {
    if (m.s === undefined || m.t === 'pong') {
      if (m.t === 'session') {
        this.joined = true;
        this.tries = 0;
      }
      if (m.t === 'error') this.lastError = m;
      return this.emit(m.t, m);
    }
    if (m.t === 'snapshot') return this.snapshot(/** @type {Relayed} */ (m));
    if (m.t === 'page') {
      this.last = m.s;
      return this.emit('page', m);
    }
    const inSeq = this.inSeq(m.s);
    // A notice answers the agent's own action: told even while the view waits for a snapshot.
    if (m.t === 'notice') this.emit('notice', m);
    else if (inSeq) this.emit('change', m);
  }

  /** Checks `s` continuity; returns whether a change may be applied. @param {number} s */
  inSeq(s) {
    const ok = s === this.last + 1;
    this.last = s;
    if (this.waiting) return false;
    if (!ok) {
      this.resync('gap before ' + s);
      return false;
    }
    return true;
  }

  /** A binary frame (docs/protocol.md): a snapshot chunk, or a canvas picture. @param {Uint8Array<ArrayBuffer>} b */
  binary(b) {
    if (b.length < 6 || b[0] !== 1) return;
    const s = new DataView(b.buffer, b.byteOffset).getUint32(2);
    const kind = b[1];
    const p = b.subarray(6);
    if (kind === 1) {
      // Chunks of the next snapshot: kept as one contiguous run until its `snapshot` message,
      // and not without end (compressed, a snapshot is smaller than its inflated bound).
      const chunks = this.chunks;
      if (chunks.length && chunks[chunks.length - 1][0] !== s - 1) {
        this.chunks = [];
        this.chunkBytes = 0;
      }
      this.chunkBytes += p.length;
      if (this.chunkBytes > this.maxSnapshotBytes) {
        if (this.chunks.length) this.emit('oversize', this.maxSnapshotBytes);
        this.chunks = [];
        this.last = s;
        return;
      }
      this.chunks.push([s, p]);
      this.last = s;
      return;
    }
    if (kind === 2 && this.inSeq(s)) {
      const id = new DataView(p.buffer, p.byteOffset).getUint32(0);
      this.emit('canvas', { id, bytes: p.subarray(4) });
    }
  }

  /**
   * A `snapshot` message: its chunks and the sequence are taken at once, as it arrives, so that
   * the changes right behind it count from it even while an earlier step is still applied.
   * @param {Relayed} m
   */
  snapshot(m) {
    const run = this.chunks.slice(-m.n);
    this.chunks = [];
    this.chunkBytes = 0;
    const complete = run.length === m.n && (!run.length || run[run.length - 1][0] === m.s - 1);
    if (!complete) return this.resync('snapshot chunks missing');
    this.last = m.s;
    this.waiting = false;
    this.emit('snapshot', { m, parts: run.map((c) => c[1]) });
  }
}
