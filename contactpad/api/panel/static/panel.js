// ctibridge agent panel. Plain JavaScript, no build step.
//
// The server is the authority: this page lists what the API returns, shows
// the actions each interaction's view marks enabled (and why the others are
// not), and computes every countdown from the server's timestamps. It
// follows the event stream and applies each event to what it shows,
// fetching only what an event cannot carry (see "incremental updates").

import {
  SESSION, session, signInEnabled, authHeaders, resumeSession, signInWithSalesforce, endSession,
} from './signin.js';

const TOKEN_KEY = 'ctibridge.token';
const API = 'api/v1';

const $ = (id) => document.getElementById(id);

const config = {
  openCTIURL: document.body.dataset.openctiScript || '',
  recordURL: document.body.dataset.recordLink || '',
};

const MEDIA = { live: 'Call', 'semi-live': 'Chat', 'non-live': 'Case' };
const STATUS = {
  queued: 'Queued', offered: 'Alerting', connected: 'Connected', wrap_up: 'Wrap-up',
  completed: 'Completed', abandoned: 'Abandoned', deferred: 'Deferred',
};
const PRESENCE = {
  available: 'Available now', interruptible: 'Interruptible', busy: 'Logged in / busy', logged_out: 'Logged out',
};
const ACTION = {
  release: 'Release', hold: 'Hold', retrieve: 'Retrieve', consult: 'Consult', transfer: 'Transfer',
  abandon: 'Abandon', defer: 'Defer', resume: 'Resume',
};
const FOLDER_STATUSES = {
  ongoing: ['offered', 'connected', 'wrap_up'], deferred: ['deferred'], history: ['completed', 'abandoned'],
};

let token = null;
const st = {
  me: null,
  folder: 'ongoing',
  status: '',
  lists: { ongoing: [], deferred: [], history: [] },
  selected: null, // interaction id
  detail: null, // the selected interaction's full view (audit, transfers)
  transfers: [],
  consults: [],
  others: new Map(), // interactions of other agents that a request or consult names
  failed: new Map(), // interaction id -> failed transfer, until dismissed or retried
  inactive: new Set(), // interaction ids reported inactive
  totals: new Map(), // countdown key -> its length when first seen, for progress bars
  // History as loaded: how many it holds (count), how many the list
  // shown holds (total: the matches while searching), the next page's
  // cursor, the search.
  history: { count: 0, total: 0, next: null, q: '' },
  popped: new Set(), // interaction ids whose record was popped (once each)
  live: false, // the event stream is connected
  skew: 0, // server clock minus ours, in ms
  loaded: false,
  auditOpen: window.matchMedia('(min-width: 760px)').matches, // open in a full tab
};

// ---- DOM helpers ----------------------------------------------------------

// h builds an element: h('button', {type: 'button', onclick}, 'text', child).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

function button(label, onclick, attrs = {}) {
  return h('button', { type: 'button', onclick, ...attrs }, label);
}

// replace swaps an element's children, unless they would look the same
// (so a reload that changed nothing leaves the buttons under the pointer
// alone), keeping the focus on the element with the same data-key. When
// that element is gone with what it acted on (Finish now, Transfer now),
// an element that can take the focus (the detail pane) keeps it, rather
// than letting it fall to the top of the page.
function replace(el, ...children) {
  const next = document.createElement(el.tagName);
  next.append(...children.flat().filter(Boolean));
  if (next.innerHTML === el.innerHTML) return;
  const active = document.activeElement;
  const had = active && active !== el && el.contains(active);
  const key = had ? active.dataset.key : null;
  el.replaceChildren(...next.childNodes);
  if (!had) return;
  const again = key && el.querySelector(`[data-key="${CSS.escape(key)}"]`);
  if (again) again.focus();
  else if (el.hasAttribute('tabindex')) el.focus();
}

let toastTimer = 0;
function toast(message, kind = 'error') {
  const el = $('toast');
  el.textContent = message;
  el.className = 'toast ' + kind;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, kind === 'error' ? 8000 : 4000);
}

// ---- time -----------------------------------------------------------------

const serverNow = () => Date.now() + st.skew;

// noteClock keeps the skew between the server's clock (Date header) and
// ours, so countdowns end when the server's timers fire.
function noteClock(res) {
  const date = Date.parse(res.headers.get('Date') || '');
  if (Number.isNaN(date)) return;
  const skew = date + 500 - Date.now(); // Date has whole seconds
  st.skew = Math.abs(skew) > 1500 ? skew : 0;
}

function left(iso) {
  return Math.max(0, Math.ceil((Date.parse(iso) - serverNow()) / 1000));
}

function duration(s) {
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}:${String(s % 60).padStart(2, '0')}`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

// when shows a server time in the agent's language and time zone, with
// the zone's name ("17:00 CET" today, "6 Dec, 17:00 CET" another day):
// never the raw RFC 3339 of the API.
function when(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const sameDay = d.toDateString() === new Date().toDateString();
  const opts = { hour: '2-digit', minute: '2-digit', timeZoneName: 'short' };
  if (!sameDay) Object.assign(opts, { day: 'numeric', month: 'short' });
  if (Math.abs(d - Date.now()) > 300 * 864e5) opts.year = 'numeric';
  return new Intl.DateTimeFormat(navigator.language || undefined, opts).format(d);
}

// countdown is a live "N s" for a server deadline, with a progress bar
// whose length is the time left when it was first shown; a deadline that
// moves (an extended wrap-up) starts a new bar.
function countdown(key, iso, label) {
  key += '@' + iso;
  const total = st.totals.get(key) || Math.max(1, (Date.parse(iso) - serverNow()) / 1000);
  st.totals.set(key, total);
  return h('span', { class: 'countdown', role: 'timer', dataset: { until: iso }, 'aria-label': `${label} ${duration(left(iso))}` },
    h('span', { class: 'cd-label' }, label, ' '),
    h('strong', { class: 'cd-left', 'aria-hidden': 'true' }, duration(left(iso))),
    h('progress', { max: String(Math.round(total * 10)), 'aria-hidden': 'true' }));
}

const expiredDeadlines = new Set();

function tick() {
  let expired = false;
  for (const el of document.querySelectorAll('.countdown')) {
    const s = left(el.dataset.until);
    el.querySelector('.cd-left').textContent = duration(s);
    el.querySelector('progress').value = s * 10;
    el.setAttribute('aria-label', `${el.querySelector('.cd-label').textContent} ${duration(s)}`);
    if (s === 0 && !expiredDeadlines.has(el.dataset.until)) {
      expiredDeadlines.add(el.dataset.until);
      expired = true;
    }
  }
  // The server's timer fires about now; its event brings the new state.
  // Reload only while the stream is reconnecting.
  if (expired) setTimeout(() => { if (!st.live) refresh(); }, 1200);
}

// ---- API ------------------------------------------------------------------

const PUSHED_OUT = 'This panel is open in too many windows, and this one no longer receives work. Reload it to use it here.';
const UNREACHABLE = 'ctibridge cannot be reached. Check your connection; the panel retries by itself.';
const BUSY = 'ctibridge is busy. Try again in a moment.';

class Problem extends Error {
  constructor(status, body) {
    super(plainProblem(status, body));
    this.status = status;
    this.code = body && body.code;
    this.retryAfter = 1; // seconds, from Retry-After on a 429
    this.detail = body && body.detail; // the server's words, which may name internal ids: not shown
  }
}

async function api(method, path, body) {
  const headers = authHeaders(token);
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(API + path, {
      method, headers, cache: 'no-store', credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new Problem(0, { detail: UNREACHABLE });
  }
  noteClock(res);
  if (res.status === 204) return null;
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    if (res.status === 401) signOut(notAccepted());
    const p = new Problem(res.status, data);
    if (res.status === 429) {
      p.retryAfter = Math.max(1, Number(res.headers.get('Retry-After')) || 1);
      p.message = BUSY;
    }
    throw p;
  }
  return data;
}

// act runs an action and shows what it answered (the event stream brings
// the rest); a refusal is shown with the server's own words. It returns
// whether the action succeeded.
async function act(method, path, body, where) {
  try {
    await applyAnswer(await api(method, path, body));
    return true;
  } catch (err) {
    if (where) where.textContent = err.message;
    else toast(err.message);
    return false;
  }
}

// ---- sign-in --------------------------------------------------------------

function takeTokenFromURL() {
  const params = new URLSearchParams(location.hash.slice(1));
  const t = params.get('token');
  if (!location.hash) return;
  // The fragment never reaches a server; drop it so the token is not left
  // in the address bar, the history or a bookmark.
  history.replaceState(null, '', location.pathname + location.search);
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
}

async function signIn(t) {
  clearTimeout(signInRetry);
  token = t;
  let me;
  try {
    me = await api('GET', '/me');
  } catch (err) {
    if (err.status === 0 || err.status >= 500) retrySignIn(() => signIn(t));
    else showSignIn(err.status === 401 ? 'That token is not known to ctibridge.' : err.message);
    return;
  }
  if (me.role !== 'agent') {
    showSignIn(`The panel is for agents; this token is the ${me.role} "${me.name}".`);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, t);
  st.me = me;
  $('signin').hidden = true;
  $('app').hidden = false;
  stream();
  await refresh();
}

// retrySignIn shows the sign-in with why the panel could not sign in yet,
// and tries again (again) in a few seconds. ctibridge could not be reached
// or its database was out: that says nothing of the agent's token or
// session, which are kept, so a reload during an outage does not sign the
// agent out. Signing in by hand meanwhile takes over.
let signInRetry = null;
const SIGNIN_RETRY = 5000; // ms

function retrySignIn(again) {
  token = null;
  $('app').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = 'ctibridge cannot answer just now. The panel tries again by itself.';
  showSignInChoices();
  clearTimeout(signInRetry);
  signInRetry = setTimeout(again, SIGNIN_RETRY);
}

// resume enters the cookie session the browser holds, if any.
async function resume() {
  let me;
  try {
    me = await resumeSession();
  } catch {
    retrySignIn(resume);
    return;
  }
  if (me) enterSession(me);
  else showSignIn('');
}

function showSignIn(message) {
  clearTimeout(signInRetry);
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  $('app').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = message || '';
  $('signin-token').value = '';
  showSignInChoices();
}

function signOut(message) {
  endSession();
  if (streamAbort) streamAbort.abort();
  streamAbort = null;
  for (const d of document.querySelectorAll('dialog[open]')) d.close();
  Object.assign(st, { me: null, selected: null, detail: null, loaded: false, live: false });
  heldEvents = [];
  st.history = { count: 0, total: 0, next: null, q: '' };
  st.popped.clear();
  st.failed.clear();
  st.inactive.clear();
  for (const m of [facts.versions, facts.placed, facts.dropped]) m.clear();
  showSignIn(message);
}

// ---- Sign in with Salesforce (signin.js) ----------------------------------

// showSignInChoices makes "Sign in with Salesforce" the sign-in screen's
// main action when the bridge offers it, the API token field otherwise.
function showSignInChoices() {
  $('signin-salesforce').hidden = !signInEnabled;
  const box = $('signin-token-box');
  if (!signInEnabled) box.open = true;
  if (box.open) $('signin-token').focus();
  else $('signin-sf').focus();
}

function notAccepted() {
  return session.active ? 'Your sign-in has ended. Sign in again.' : 'Your token was not accepted. Sign in again.';
}

async function salesforceSignIn() {
  $('signin-error').textContent = '';
  const button = $('signin-sf');
  button.disabled = true;
  try {
    await signInWithSalesforce();
    const me = await resumeSession();
    if (!me) throw new Error('Signed in, but the session did not hold. Sign in again.');
    await enterSession(me);
  } catch (err) {
    $('signin-error').textContent = err.message;
  } finally {
    button.disabled = false;
  }
}

// enterSession opens the panel for the agent signed in by cookie.
async function enterSession(me) {
  clearTimeout(signInRetry);
  if (me.role !== 'agent') {
    await endSession();
    showSignIn(`The panel is for agents; this sign-in is the ${me.role} "${me.name}".`);
    return;
  }
  token = SESSION;
  st.me = me;
  $('signin').hidden = true;
  $('app').hidden = false;
  stream();
  await refresh();
}

// ---- event stream ---------------------------------------------------------

let streamAbort = null;
let lastEventId = '';

function setConn(ok, text) {
  const el = $('conn');
  el.className = 'conn ' + (ok ? 'ok' : 'down');
  el.textContent = text;
  st.live = ok;
  connectionBanner(ok);
  // Back in touch: the complaint that it could not be reached is old news.
  if (ok && $('toast').textContent === UNREACHABLE) $('toast').hidden = true;
}

// stream follows GET /api/v1/events with fetch: the token goes in the
// Authorization header, which EventSource cannot send. It reconnects with
// Last-Event-ID and a growing delay, and reloads the state on every
// (re)connect, so nothing that happened while it was away is missed.
async function stream() {
  if (streamAbort) streamAbort.abort();
  const ctrl = new AbortController();
  streamAbort = ctrl;
  let delay = 1000;
  let retryAfter = 0; // ms, when the server said when to come back
  while (!ctrl.signal.aborted) {
    retryAfter = 0;
    try {
      const headers = { ...authHeaders(token), Accept: 'text/event-stream' };
      if (lastEventId) headers['Last-Event-ID'] = lastEventId;
      const res = await fetch(`${API}/events`, { headers, signal: ctrl.signal, cache: 'no-store', credentials: 'same-origin' });
      if (res.status === 401) { signOut(notAccepted()); return; }
      if (!res.ok) {
        // Its database is out (503): back when it says, not after a
        // backoff grown long meanwhile.
        const after = Number(res.headers.get('Retry-After'));
        if (res.status === 503 && after > 0) retryAfter = after * 1000;
        throw new Error(`events: ${res.status}`);
      }
      setConn(true, 'Live');
      delay = 1000;
      refresh();
      let pushedOut = false;
      await readEvents(res.body, (e) => {
        if (e.retry) delay = e.retry;
        if (e.type === 'stream.closed') pushedOut = true;
        else if (e.type === 'stream.reset') onReset();
        else if (e.data) onEvent(e.type, e.data);
      });
      if (pushedOut) {
        // Newer panels of this agent took the stream over: coming back on
        // our own would push one of them out in turn.
        setConn(false, 'Stopped');
        toast(PUSHED_OUT);
        clearTimeout(toastTimer); // it stays until the agent reloads
        return;
      }
    } catch {
      // Network error or aborted: fall through to the retry.
    }
    if (ctrl.signal.aborted) return;
    setConn(false, 'Reconnecting…');
    await new Promise((r) => setTimeout(r, (retryAfter || delay) + Math.random() * 500));
    if (!retryAfter) delay = Math.min(delay * 2, 30000);
  }
}

// readEvents parses a text/event-stream body, calling emit per event.
async function readEvents(body, emit) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let ev = { type: 'message', data: '' };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let nl;
    while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (ev.data || ev.retry) emit(ev);
        ev = { type: 'message', data: '' };
        continue;
      }
      if (line.startsWith(':')) {
        // The preamble names where the stream starts: a panel that has
        // had no event yet resumes from there, so a reconnect before its
        // first event misses nothing.
        const start = /^: ctibridge events after (\d+)$/.exec(line);
        if (start && !lastEventId) lastEventId = start[1];
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') lastEventId = val;
      else if (field === 'event') ev.type = val;
      else if (field === 'data') ev.data += (ev.data ? '\n' : '') + val;
      else if (field === 'retry' && /^\d+$/.test(val)) ev.retry = Number(val);
    }
  }
}

// onReset: the events this panel missed cannot be replayed (pruned, or
// too many), and the stream goes on from the present. What the panel kept
// from past events (failed transfers, inactive markers) may be stale:
// it is dropped, and the lists are loaded again.
function onReset() {
  st.failed.clear();
  st.inactive.clear();
  refresh();
}

function onEvent(type, data) {
  let e;
  try { e = JSON.parse(data); } catch { return; }
  const me = st.me && st.me.id;
  const t = e.transfer;
  if (t && t.initiator === me) {
    if (type === 'transfer.failed') st.failed.set(t.interaction_id, t);
    else st.failed.delete(t.interaction_id);
  }
  const i = e.interaction;
  if (i) {
    if (type === 'interaction.inactive' && i.owner === me) st.inactive.add(i.id);
    else if (type !== 'interaction.inactive') st.inactive.delete(i.id);
    if (type === 'interaction.offered' && i.owner === me) showSoftphone();
  }
  applyEvent(e);
}

// ---- loading state --------------------------------------------------------

const acceptWindow = new Map(); // transfer id -> seconds the target had to accept

// refresh reloads everything the panel shows: when the stream (re)connects
// or is reset, not for every event (see fetchLater).
function refresh() {
  return fetchLater({ all: true });
}

async function load() {
  const [me, ongoing, deferred, history, transfers, consults] = await Promise.all([
    api('GET', '/me'),
    api('GET', '/interactions?folder=ongoing'),
    api('GET', '/interactions?folder=deferred'),
    // As many as the agent has paged to: a reload (a reconnect, a
    // reset) does not take the pages they loaded away.
    api('GET', historyPath(null, Math.min(Math.max(HISTORY_PAGE, st.lists.history.length), HISTORY_MAX))),
    api('GET', '/transfers'),
    api('GET', '/consults'),
  ]);
  st.me = me;
  if (!directory) await loadDirectory().catch(() => {});
  st.lists = { ongoing: ongoing.interactions, deferred: deferred.interactions, history: history.interactions };
  listed(all());
  st.history.total = history.total;
  st.history.next = history.next_cursor;
  if (!st.history.q) st.history.count = history.total;
  st.transfers = transfers.transfers;
  for (const t of st.transfers) noteAcceptWindow(t);
  st.consults = consults.consults;

  // Interactions of other agents that a request to me or a consult names.
  const mine = new Set(all().map((i) => i.id));
  const wanted = new Set();
  for (const t of st.transfers) if (!mine.has(t.interaction_id)) wanted.add(t.interaction_id);
  for (const c of st.consults) if (!mine.has(c.interaction_id)) wanted.add(c.interaction_id);
  const others = new Map();
  await Promise.all([...wanted].map(async (id) => {
    try { others.set(id, await api('GET', `/interactions/${encodeURIComponent(id)}`)); } catch { /* gone meanwhile */ }
  }));
  st.others = others;

  const selected = st.selected;
  if (selected) {
    // The agent may pick another row while this loads: an answer for the
    // old one must not replace the new one's detail.
    try {
      const detail = await api('GET', `/interactions/${encodeURIComponent(selected)}`);
      if (st.selected === selected) st.detail = detail;
    } catch (e) {
      // Transferred away, or no longer ours to see: not shown. The server
      // out for a moment (a 503 while its database is away, no answer)
      // keeps what the agent was looking at.
      if (st.selected === selected && (e.status === 403 || e.status === 404)) {
        st.selected = null;
        st.detail = null;
      }
    }
  }
  for (const id of st.inactive) {
    if (!st.lists.ongoing.some((i) => i.id === id && i.status === 'connected')) st.inactive.delete(id);
  }
  st.loaded = true;
  render();
}

// noteAcceptWindow remembers how long the target of a transfer had to
// accept (the accept time runs from the request): a failed transfer no
// longer has its deadline, and says so.
function noteAcceptWindow(t) {
  if (t.expires_at && !acceptWindow.has(t.id)) {
    acceptWindow.set(t.id, Math.round((Date.parse(t.expires_at) - Date.parse(t.created_at)) / 1000));
  }
}

// ---- incremental updates ----------------------------------------------------
//
// Each event is applied to what the panel shows (applyEvent): an agent's
// stream carries interactions with their actions, and transfers and
// consults whole. What an event cannot carry is fetched by fetchLater:
// the whole state when the stream (re)connects or is reset, the agent's
// load (/me), one interaction (the selected one's audit trail, the one a
// transfer or consult names), the first History page while searching.
// Wishes made meanwhile are merged into one fetch, at most one a second,
// so a burst of events costs a few requests; a 429 waits its Retry-After.

const FETCH_GAP = 1000; // ms between two fetches

const fetches = {
  wanted: { all: false, me: false, history: false, ids: new Set() },
  waiting: [], // resolvers of the promises fetchLater returned
  timer: 0,
  running: false,
  last: 0, // when the last fetch started
  notBefore: 0, // until when a 429 asked us to wait
};

// fetchLater asks for {all, me, history, ids} to be fetched with the next
// fetch; the promise resolves once it is done (or given up).
function fetchLater(w) {
  const want = fetches.wanted;
  want.all = want.all || !!w.all;
  want.me = want.me || !!w.me;
  want.history = want.history || !!w.history;
  for (const id of w.ids || []) want.ids.add(id);
  const done = new Promise((resolve) => fetches.waiting.push(resolve));
  planFetch();
  return done;
}

function planFetch() {
  if (fetches.timer || fetches.running) return;
  const at = Math.max(fetches.last + FETCH_GAP, fetches.notBefore);
  fetches.timer = setTimeout(runFetch, Math.max(0, at - Date.now()));
}

async function runFetch() {
  fetches.timer = 0;
  const w = fetches.wanted;
  const waiting = fetches.waiting;
  fetches.wanted = { all: false, me: false, history: false, ids: new Set() };
  fetches.waiting = [];
  if (!token) { waiting.forEach((r) => r()); return; }
  fetches.running = true;
  fetches.last = Date.now();
  try {
    await fetchNow(w);
    waiting.forEach((r) => r());
  } catch (err) {
    if (err.status === 429) {
      // Over the token's rate: wait as long as the server asks, then
      // fetch what was wanted, with whatever was wanted meanwhile.
      fetches.notBefore = Date.now() + err.retryAfter * 1000;
      fetchLater(w);
      fetches.waiting.push(...waiting);
    } else {
      if (token) toast(err.message);
      waiting.forEach((r) => r());
    }
  } finally {
    fetches.running = false;
  }
  const next = fetches.wanted;
  if (next.all || next.me || next.history || next.ids.size) planFetch();
}

// Events that arrive while the whole state loads wait for it, then apply
// in order on top of it (an interaction's version tells an older one).
let loadingAll = false;
let heldEvents = [];

async function fetchNow(w) {
  if (w.all) {
    loadingAll = true;
    try {
      await load();
    } finally {
      loadingAll = false;
      const held = heldEvents;
      heldEvents = [];
      if (st.loaded) for (const e of held) applyEvent(e);
    }
    return;
  }
  const jobs = [];
  if (w.me) jobs.push(api('GET', '/me').then((me) => { st.me = me; }));
  if (w.history) jobs.push(loadHistory(false));
  for (const id of w.ids) jobs.push(fetchOne(id));
  await Promise.all(jobs);
  if (st.me) render();
}

// What the panel learns of an interaction comes from three sides at
// once: the stream, the answers to the agent's actions, and reads. A read
// answered after a newer fact came in must not undo it: the Case alice
// just handed over must not come back to her list because a read that
// started before the hand-over was answered after it. A view carries its
// version, so an older one than the panel placed is dropped
// (placeInteraction). A refusal (403, 404: no longer the agent's to see)
// carries none, so a read and a refusal that overtook one another are
// not applied: the interaction is read again.
const facts = {
  clock: 0, // counts reads started and facts learnt
  versions: new Map(), // interaction id -> newest version placed
  placed: new Map(), // interaction id -> clock when a view of it was last placed
  dropped: new Map(), // interaction id -> clock when it was last refused
};

// listed notes the versions of the interactions a list brings, and reads
// again those older than a view placed while the list was read.
function listed(items) {
  const older = [];
  for (const i of items) {
    if (facts.versions.get(i.id) > i.version) older.push(i.id);
    else facts.versions.set(i.id, i.version);
  }
  if (older.length) fetchLater({ ids: older });
}

// after reports whether the clock of interaction id in m is past asked.
const after = (m, id, asked) => (m.get(id) || 0) > asked;

// fetchOne reads one interaction: the agent's own, the selected one (with
// its audit trail), or another agent's that a request or consult names.
async function fetchOne(id) {
  const asked = ++facts.clock;
  let v;
  try {
    v = await api('GET', `/interactions/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err.status !== 403 && err.status !== 404) throw err;
    if (after(facts.placed, id, asked)) {
      fetchLater({ ids: [id] }); // a view came meanwhile: which is newer?
      return;
    }
    // Handed over, or no longer ours to see.
    facts.dropped.set(id, ++facts.clock);
    st.others.delete(id);
    for (const f of Object.keys(st.lists)) st.lists[f] = st.lists[f].filter((i) => i.id !== id);
    if (st.selected === id) {
      st.selected = null;
      st.detail = null;
    }
    return;
  }
  if (facts.versions.get(id) > v.version) return; // a newer one is shown
  if (after(facts.dropped, id, asked)) {
    fetchLater({ ids: [id] }); // refused meanwhile: which is newer?
    return;
  }
  if (v.owner !== st.me.id && namedByRequest(id)) st.others.set(id, v);
  placeInteraction(v);
}

// namedByRequest: a transfer request to the agent or a consult of it
// (open, or that of event e) names the interaction (of another agent).
function namedByRequest(id, e) {
  const me = st.me.id;
  const open = (t) => t.status === 'initiated' || t.status === 'accepted';
  if (e && e.transfer) return e.transfer.interaction_id === id && e.transfer.assignee === me && open(e.transfer);
  if (e && e.consult) return e.consult.interaction_id === id && e.consult.target && e.consult.target.agent === me && e.consult.status !== 'ended';
  return st.transfers.some((t) => t.interaction_id === id && t.assignee === me) ||
    st.consults.some((c) => c.interaction_id === id && c.target && c.target.agent === me);
}

// Why deferred work came back by itself, as a toast says it.
const REOPENED = {
  due_date: 'its due date has come',
  customer_reply: 'the customer replied',
  crm: 'it was reopened in Salesforce',
};

// applyEvent applies one event of the stream to what the panel shows.
function applyEvent(e) {
  if (!st.me) return;
  if (!st.loaded || loadingAll) {
    heldEvents.push(e);
    if (heldEvents.length > 1000) { heldEvents = []; refresh(); } // the next load shows them all
    return;
  }
  const wanted = { ids: [] };
  if (e.interaction) {
    const i = e.interaction;
    if (i.actions && (e.transfer || e.consult) && i.owner !== st.me.id && namedByRequest(i.id, e)) st.others.set(i.id, i);
    if (i.actions) {
      const wasDeferred = st.lists.deferred.some((x) => x.id === i.id);
      placeInteraction(i);
      if (wasDeferred && i.owner === st.me.id && i.status === 'connected' && REOPENED[i.reopen_reason]) {
        toast(`“${subjectOf(i)}” is back in your Ongoing folder: ${REOPENED[i.reopen_reason]}.`, 'info');
      }
      if (i.owner === st.me.id || FOLDER_STATUSES.ongoing.includes(i.status)) wanted.me = true; // the load changed
    } else {
      wanted.ids.push(i.id); // an event without actions: read it
    }
    if (i.id === st.selected) wanted.ids.push(i.id); // its audit trail grew
  }
  if (e.transfer) applyTransfer(e.transfer, wanted);
  if (e.consult) applyConsult(e.consult, wanted);
  // A transfer or consult event carries its interaction as it is now.
  if ((e.transfer || e.consult) && e.interaction) wanted.ids = wanted.ids.filter((id) => id !== e.interaction.id);
  if (e.agent && e.agent.id === st.me.id) {
    st.me.presence = e.agent.presence;
    wanted.me = true; // its capacity per media type may have changed too (Omni-Channel's busy media)
  }
  render();
  if (wanted.me || wanted.history || wanted.ids.length) fetchLater(wanted);
}

// applyAnswer shows what an action answered: the interaction, or the
// transfer or consult it made or acted on, with its interaction read
// again (a cold transfer hands it over at once; a transfer in progress
// changes what the agent may do with it).
async function applyAnswer(res) {
  if (!res || !st.me) return;
  const wanted = { ids: [] };
  if (res.actions) placeInteraction(res);
  else if (res.mode) applyTransfer(res, wanted);
  else if (res.interaction_id) applyConsult(res, wanted);
  await Promise.all(wanted.ids.map((id) => fetchOne(id).catch(() => {})));
  render();
}

const folderOf = (status) => Object.keys(FOLDER_STATUSES).find((f) => FOLDER_STATUSES[f].includes(status)) || null;

// byCreation orders Ongoing and Deferred as the API lists them: oldest first.
const byCreation = (a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id);

// placeInteraction puts an interaction view where it now belongs: in the
// folder of its status when it is the agent's, nowhere when it went to
// someone else; History (newest first) gets it on top and counts it.
function placeInteraction(v) {
  if (facts.versions.get(v.id) > v.version) return; // older than what was placed
  facts.versions.set(v.id, v.version);
  facts.placed.set(v.id, ++facts.clock);
  const me = st.me.id;
  let was = null;
  let wasAt = -1;
  for (const f of Object.keys(st.lists)) {
    const k = st.lists[f].findIndex((i) => i.id === v.id);
    if (k >= 0) {
      was = f;
      wasAt = k;
      st.lists[f].splice(k, 1);
    }
  }
  const now = v.owner === me ? folderOf(v.status) : null;
  if (now === 'history' && was === 'history') {
    st.lists.history.splice(wasAt, 0, v); // read again (selected, say): it keeps its place
  } else if (now === 'history') {
    if (st.history.q) fetchLater({ history: true }); // whether it matches is the server's to say
    else st.lists.history.unshift(v);
  } else if (now) {
    const list = st.lists[now];
    const at = list.findIndex((i) => byCreation(v, i) < 0);
    list.splice(at < 0 ? list.length : at, 0, v);
  }
  // Ongoing and Deferred are loaded whole: an interaction that comes to
  // History from neither was in it already, further down.
  const h = st.history;
  if (now === 'history' && (was === 'ongoing' || was === 'deferred')) {
    h.count++;
    if (!h.q) h.total++;
  }
  if (was === 'history' && now !== 'history') {
    h.count = Math.max(0, h.count - 1);
    if (!h.q) h.total = Math.max(0, h.total - 1);
    else fetchLater({ history: true });
  }
  if (st.others.has(v.id)) st.others.set(v.id, { ...st.others.get(v.id), ...v });
  if (st.selected === v.id) {
    if (now || st.others.has(v.id)) st.detail = { ...(st.detail || {}), ...v };
    else {
      st.selected = null; // handed over: no longer the agent's to show
      st.detail = null;
    }
  }
}

function applyTransfer(t, wanted) {
  const open = t.status === 'initiated' || t.status === 'accepted';
  st.transfers = st.transfers.filter((x) => x.id !== t.id);
  if (open) st.transfers.push(t);
  noteAcceptWindow(t);
  // The interaction's actions change (a transfer in progress), or a
  // request shows another agent's interaction.
  const id = t.interaction_id;
  if (all().some((i) => i.id === id) || id === st.selected || (open && t.assignee === st.me.id)) wanted.ids.push(id);
  else if (!namedByRequest(id)) st.others.delete(id);
}

function applyConsult(c, wanted) {
  st.consults = st.consults.filter((x) => x.id !== c.id);
  if (c.status !== 'ended') st.consults.push(c);
  const id = c.interaction_id;
  if (all().some((i) => i.id === id) || id === st.selected || (c.status !== 'ended' && c.target && c.target.agent === st.me.id)) wanted.ids.push(id);
  else if (!namedByRequest(id)) st.others.delete(id);
}

// ---- History ------------------------------------------------------------------
//
// History is paged: the newest first, HISTORY_PAGE at a time ("Show
// more"), with the true count and a search of the server's.

const HISTORY_PAGE = 50;
const HISTORY_MAX = 5000; // the most one list answers (the API's limit)

function historyPath(cursor, limit = HISTORY_PAGE) {
  let path = `/interactions?folder=history&order=newest&limit=${limit}`;
  if (st.history.q) path += `&q=${encodeURIComponent(st.history.q)}`;
  if (cursor) path += `&cursor=${encodeURIComponent(cursor)}`;
  return path;
}

// loadHistory loads the first page again, or with more the next one.
async function loadHistory(more) {
  const q = st.history.q;
  const page = await api('GET', historyPath(more ? st.history.next : null));
  if (q !== st.history.q) return; // the search changed meanwhile
  const items = page.interactions;
  listed(items);
  if (more) {
    const have = new Set(st.lists.history.map((i) => i.id));
    st.lists.history.push(...items.filter((i) => !have.has(i.id)));
  } else {
    st.lists.history = items;
  }
  st.history.total = page.total;
  st.history.next = page.next_cursor;
  if (!q) st.history.count = page.total;
}

function renderHistoryTools() {
  const on = st.folder === 'history' && !st.status;
  $('history-tools').hidden = !on;
  const n = st.history.total;
  const shown = st.lists.history.length;
  // A full page has a next cursor even when nothing is left after it.
  $('history-more').hidden = !on || !st.history.next || shown >= n;
  $('history-count').textContent = !on ? ''
    : st.history.q ? `${n} ${n === 1 ? 'match' : 'matches'}${shown < n ? `, ${shown} shown` : ''}`
      : n ? `${n} in History${shown < n ? `, ${shown} shown` : ''}` : '';
}

let historySearchTimer = 0;
$('history-q').addEventListener('input', () => {
  clearTimeout(historySearchTimer);
  historySearchTimer = setTimeout(async () => {
    const q = $('history-q').value.trim();
    if (q === st.history.q) return;
    st.history.q = q;
    try {
      await loadHistory(false);
    } catch (err) {
      toast(err.message);
    }
    render();
  }, 300);
});
$('history-q').addEventListener('keydown', (ev) => { if (ev.key === 'Enter') ev.preventDefault(); });
$('history-more').addEventListener('click', async () => {
  const btn = $('history-more');
  btn.disabled = true;
  try {
    await loadHistory(true);
  } catch (err) {
    toast(err.message);
  } finally {
    btn.disabled = false;
  }
  render();
});

const all = () => [...st.lists.ongoing, ...st.lists.deferred, ...st.lists.history];
const find = (id) => all().find((i) => i.id === id) || (st.detail && st.detail.id === id ? st.detail : null) ||
  (st.others.get(id) || null);

// ---- rendering ------------------------------------------------------------

function render() {
  renderHeader();
  renderAlerts();
  renderFolders();
  renderHistoryTools();
  renderDetail();
  closeDialogsIfGone();
  renderRouteDialog();
  renderUX();
  tick();
}

function renderHeader() {
  const me = st.me;
  $('me-name').textContent = me.name;
  // Leave the selector alone while the agent is choosing or a change is on
  // its way: a stale value there would be sent back as a change on blur.
  const sel = $('presence');
  if (!presencePending && document.activeElement !== sel) sel.value = me.presence;
  renderPresenceSource(me);
  const parts = [];
  for (const [media, label] of Object.entries({ live: 'Calls', 'semi-live': 'Chats', 'non-live': 'Cases' })) {
    const cap = (me.capacity || {})[media] || 0;
    if (cap) parts.push(`${label} ${(me.load || {})[media] || 0}/${cap}`);
  }
  $('load').textContent = parts.join(' · ');
}

// renderPresenceSource disables the presence selector, and says why under
// the header, while the agent's presence follows its Omni-Channel status
// in Salesforce (GET /me's presence_source): it changes there, and
// PUT /me/presence would be refused (presence_follows_crm).
function renderPresenceSource(me) {
  const sel = $('presence');
  const follows = me.presence_source === 'omni';
  const why = 'Your presence follows your Omni-Channel status in Salesforce: change it there.';
  sel.disabled = follows;
  sel.title = follows ? why : '';
  let note = $('presence-source');
  if (follows && !note) {
    note = h('p', { id: 'presence-source', class: 'presence-source', role: 'note' }, why);
    $('load').before(note);
  }
  if (note) note.hidden = !follows;
  if (follows) sel.setAttribute('aria-describedby', 'presence-source');
  else sel.removeAttribute('aria-describedby');
}

function subjectOf(i) {
  return i.subject || `${i.crm_object} ${i.crm_id}`;
}

// omniOfferNote says where to answer an offer that Salesforce Omni-Channel
// delivers (an AgentWork): in the Omni-Channel widget, where the push also
// times out; null for the panel's own offers.
function omniOfferNote(i) {
  if (i.answer_in !== 'omni_channel') return null;
  return h('p', { class: 'note omni', role: 'status' },
    'Offered through Salesforce Omni-Channel: accept or decline it in the Omni-Channel widget.');
}

// omniRequestNote says where to answer a transfer request that Salesforce
// Omni-Channel delivers (an AgentWork), and that accepting it there hands
// the work over at once; null for requests answered here.
function omniRequestNote(t) {
  if (t.answer_in !== 'omni_channel') return null;
  return h('p', { class: 'note omni', role: 'status' },
    'Delivered through Salesforce Omni-Channel: accept or decline it in the Omni-Channel widget. Accepting hands it to you at once.');
}

function mediaChip(i) {
  return h('span', { class: `chip media-${i.media}` }, MEDIA[i.media] || i.media);
}

function renderAlerts() {
  const cards = answerCards();
  for (const i of st.lists.ongoing) {
    const out = outgoingTransfer(i.id);
    if (out) cards.push(h('article', { class: 'alert outgoing' }, h('p', { class: 'subject' }, subjectOf(i)), out));
  }
  for (const id of st.inactive) {
    const i = st.lists.ongoing.find((x) => x.id === id);
    if (!i) continue;
    const can = enabled(i);
    cards.push(h('article', { class: 'alert inactive', 'aria-label': `Inactive: ${subjectOf(i)}` },
      h('p', {}, h('strong', {}, 'No activity for a while'), ' ', mediaChip(i)),
      h('p', { class: 'subject' }, subjectOf(i)),
      h('p', {}, 'Transfer it, defer it or complete it, so it does not stay in Ongoing.'),
      h('div', { class: 'buttons' },
        can.has('transfer') && button('Transfer', () => openRoute(i, 'transfer'), { dataset: { key: `itransfer:${id}` } }),
        can.has('defer') && button('Defer', () => openDefer(i), { dataset: { key: `idefer:${id}` } }),
        can.has('release') && button('Complete', () => act('POST', `/interactions/${id}/release`), { dataset: { key: `irelease:${id}` } }),
        button('Later', () => { st.inactive.delete(id); render(); }, { class: 'link', dataset: { key: `ilater:${id}` } }))));
  }
  replace($('alerts'), cards);
  $('alerts').hidden = cards.length === 0;
  dockAlerts();
}

// answerCards are the alerts that wait for the agent's answer: offers,
// transfer requests, consults.
function answerCards() {
  const me = st.me.id;
  const cards = [];
  for (const i of st.lists.ongoing.filter((x) => x.status === 'offered')) {
    cards.push(h('article', { class: 'alert offer', 'aria-label': `Offer: ${subjectOf(i)}` },
      h('p', {}, h('strong', {}, `Incoming ${MEDIA[i.media].toLowerCase()}${i.customer ? ` from ${i.customer}` : ''}`), ' ', mediaChip(i)),
      h('p', { class: 'subject' }, subjectOf(i)),
      i.offer_expires_at && countdown(`offer:${i.id}`, i.offer_expires_at, 'Answer within'),
      omniOfferNote(i) || h('div', { class: 'buttons' },
        button('Accept', () => accept(i), { class: 'primary', dataset: { key: `accept:${i.id}` } }),
        button('Decline', () => openDecline('offer', i), { dataset: { key: `decline:${i.id}` } }))));
  }
  for (const t of st.transfers.filter((x) => x.assignee === me && x.initiator !== me)) {
    const i = st.others.get(t.interaction_id) || find(t.interaction_id);
    const subject = i ? subjectOf(i) : t.interaction_id;
    const from = agentName(t.initiator);
    if (t.status === 'initiated') {
      cards.push(h('article', { class: 'alert request', 'aria-label': `Transfer request from ${from}` },
        h('p', {}, h('strong', {}, `Transfer request from ${from}`), ' ', i && mediaChip(i)),
        h('p', { class: 'subject' }, subject),
        t.note && h('blockquote', { class: 'note' }, t.note),
        t.expires_at && countdown(`request:${t.id}`, t.expires_at, 'Accept within'),
        omniRequestNote(t) || h('div', { class: 'buttons' },
          button('Accept', () => act('POST', `/transfers/${t.id}/accept`), { class: 'primary', dataset: { key: `taccept:${t.id}` } }),
          button('Decline', () => openDecline('transfer', t, subject), { dataset: { key: `tdecline:${t.id}` } }))));
    } else if (t.status === 'accepted') {
      cards.push(h('article', { class: 'alert info' },
        h('p', {}, `You accepted “${subject}”. ${from} hands it over in a moment.`)));
    }
  }
  for (const c of st.consults.filter((x) => x.target && x.target.agent === me)) {
    const i = st.others.get(c.interaction_id);
    const from = agentName(c.initiator);
    cards.push(h('article', { class: 'alert request', 'aria-label': `Consult from ${from}` },
      h('p', {}, h('strong', {}, c.status === 'ringing' ? `${from} is consulting you` : `On consult with ${from}`)),
      i && h('p', { class: 'subject' }, subjectOf(i)),
      c.status === 'ringing' && c.expires_at && countdown(`consult:${c.id}`, c.expires_at, 'Rings for'),
      h('div', { class: 'buttons' },
        c.status === 'ringing' && button('Answer', () => act('POST', `/consults/${c.id}/answer`), { class: 'primary', dataset: { key: `canswer:${c.id}` } }),
        button(c.status === 'ringing' ? 'Reject' : 'End consult', () => act('POST', `/consults/${c.id}/release`), { dataset: { key: `cend:${c.id}` } }))));
  }
  return cards;
}

function agentName(id) {
  // The directory leaves the caller out.
  if (st.me && id === st.me.id) return st.me.name;
  if (directory) {
    const a = directory.find((e) => e.kind === 'agent' && e.id === id);
    if (a) return a.name;
  }
  return id ? id.charAt(0).toUpperCase() + id.slice(1) : 'someone';
}

function targetName(target) {
  if (!target) return 'nobody';
  if (target.number) return target.number;
  const id = target.agent || target.service;
  const e = directory && directory.find((x) => x.id === id && x.kind === (target.agent ? 'agent' : 'service'));
  return e ? e.name : agentName(id);
}

// outgoingTransfer shows my open or failed transfer of interaction id, with
// its controls: waiting (with the accept countdown), accepted ("Transfer
// now"), or why it failed.
function outgoingTransfer(id) {
  const me = st.me.id;
  const t = st.transfers.find((x) => x.interaction_id === id && x.initiator === me);
  if (t) {
    const to = targetName(t.target);
    if (t.status === 'accepted') {
      return h('div', { class: 'transfer accepted', role: 'status' },
        h('p', {}, h('strong', {}, `${t.assignee ? agentName(t.assignee) : to} accepted.`),
          ' Let the customer know, then hand over.'),
        h('div', { class: 'buttons' },
          button('Transfer now', () => handOver(id, t.assignee ? agentName(t.assignee) : to, () => act('POST', `/transfers/${t.id}/complete`)),
            { class: 'primary', dataset: { key: `tnow:${t.id}` } }),
          button('Cancel transfer', () => act('POST', `/transfers/${t.id}/cancel`), { dataset: { key: `tcancel:${t.id}` } })));
    }
    return h('div', { class: 'transfer waiting', role: 'status' },
      h('p', {}, h('strong', {}, `Transfer to ${to}: `),
        t.assignee ? `waiting for ${agentName(t.assignee)} to accept${t.answer_in === 'omni_channel' ? ' in Omni-Channel' : ''}.` : `waiting until ${t.target.service ? 'an agent of the service' : to} can take it.`),
      t.expires_at && countdown(`transfer:${t.id}`, t.expires_at, 'Accept within'),
      h('p', { class: 'muted' }, 'You keep working with the customer meanwhile.'),
      h('div', { class: 'buttons' },
        button('Cancel transfer', () => act('POST', `/transfers/${t.id}/cancel`), { dataset: { key: `tcancel:${t.id}` } })));
  }
  const f = st.failed.get(id);
  if (!f) return null;
  const i = find(id);
  if (!i || i.status !== 'connected') {
    // Released, deferred or gone: there is nothing to try again.
    st.failed.delete(id);
    return null;
  }
  return h('div', { class: 'transfer failed', role: 'alert' },
    h('p', {}, h('strong', {}, 'Transfer failed: '), failureText(f)),
    h('p', {}, 'You keep the interaction, and your note is kept for the next try.'),
    h('div', { class: 'buttons' },
      button('Try again', () => { const i = find(id); if (i) openRoute(i, 'transfer'); }, { class: 'primary', dataset: { key: `tretry:${id}` } }),
      button('Dismiss', () => { st.failed.delete(id); render(); }, { dataset: { key: `tdismiss:${id}` } })));
}

function failureText(t) {
  const who = t.assignee ? agentName(t.assignee) : targetName(t.target);
  switch (t.failed_reason) {
    case 'declined':
      return `${who} declined${t.decline_reason ? `: “${t.decline_reason}”` : ''}.`;
    case 'timeout': {
      const secs = acceptWindow.get(t.id);
      const within = secs ? `within ${secs} s` : 'in time';
      if (!t.assignee) return t.target.agent ? `${who} could not take it ${within}.` : `Nobody in ${who} could take it ${within}.`;
      return `${who} did not accept ${within}.`;
    }
    default:
      return `${who}: ${t.failed_reason || 'it could not be delivered'}.`;
  }
}

function shown() {
  if (st.status) return all().filter((i) => i.status === st.status);
  return st.lists[st.folder];
}

function renderFolders() {
  for (const tab of document.querySelectorAll('[role=tab]')) {
    const folder = tab.dataset.folder;
    const selected = !st.status && folder === st.folder;
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected || (st.status && folder === st.folder) ? 0 : -1;
    const n = folder === 'history' ? st.history.count : st.lists[folder].length;
    tab.querySelector('.count').textContent = n ? `(${n})` : '';
  }
  $('folder').setAttribute('aria-labelledby', `tab-${st.folder}`);
  const list = shown();
  const rows = list.map((i) => {
    const status = i.status === 'deferred' && i.due_by ? `Due ${when(i.due_by)}`
      : i.status === 'wrap_up' && i.wrap_up_ends_at ? null : STATUS[i.status];
    const resumable = (i.status === 'deferred' || i.status === 'completed') && enabled(i).has('resume');
    return h('li', { class: `row status-${i.status}${i.id === st.selected ? ' selected' : ''}` },
      h('button', {
        type: 'button', class: 'pick', 'aria-current': i.id === st.selected ? 'true' : null,
        dataset: { key: `row:${i.id}`, id: i.id }, onclick: () => select(i.id),
      },
      h('span', { class: 'line1' }, mediaChip(i), h('span', { class: 'subject' }, subjectOf(i))),
      h('span', { class: 'line2' },
        status && h('span', { class: `state state-${i.status}` }, status),
        FOLDER_STATUSES.history.includes(i.status) && h('time', { datetime: i.updated_at }, when(i.updated_at)),
        i.status === 'wrap_up' && i.wrap_up_ends_at && countdown(`wrap:${i.id}`, i.wrap_up_ends_at, 'Wrap-up'),
        i.held && h('span', { class: 'state' }, 'On hold'),
        h('span', { class: 'muted' }, serviceName(i.service)))),
      resumable && button('Resume', () => act('POST', `/interactions/${i.id}/resume`),
        { class: 'quick', 'aria-label': `Resume ${subjectOf(i)}`, dataset: { key: `resume:${i.id}` } }));
  });
  if (!rows.length) {
    const empty = st.status ? `Nothing is ${STATUS[st.status].toLowerCase()}.`
      : { ongoing: 'Nothing ongoing. Go Available now to receive work.', deferred: 'Nothing deferred.',
        history: st.history.q ? `Nothing in History matches “${st.history.q}”.` : 'No history yet.' }[st.folder];
    rows.push(h('li', { class: 'empty' }, empty));
  }
  replace($('list'), rows);
}

function serviceName(id) {
  const e = directory && directory.find((x) => x.kind === 'service' && x.id === id);
  return e ? e.name : id;
}

function enabled(i) {
  return new Set((i.actions || []).filter((a) => a.enabled).map((a) => a.action));
}

// select shows interaction id; opened by the agent (not by a navigation
// in Salesforce, which is on the record already), its record pops, once.
function select(id, opened = true) {
  st.selected = id;
  st.detail = find(id);
  render();
  fetchLater({ ids: [id] }); // its audit trail, transfers and consults
  if (opened && st.detail) popOnce(st.detail);
}

function renderDetail() {
  const el = $('detail');
  const i = st.selected ? st.detail : null;
  if (!i) {
    replace(el, h('p', { class: 'empty' }, st.loaded && !all().length ? 'Your interactions show here.' : 'Select an interaction to see its actions and audit trail.'));
    return;
  }
  const why = h('p', { class: 'why', id: 'why', 'aria-live': 'polite' });
  const actions = (i.actions || []).filter((a) => fitsStatus(i, a.action)).map((a) => {
    const attrs = { dataset: { key: `act:${i.id}:${a.action}`, action: a.action }, class: a.action === 'abandon' ? 'danger-outline' : '' };
    if (!a.enabled) {
      Object.assign(attrs, { 'aria-disabled': 'true', title: a.reason, 'aria-describedby': 'why' });
      const explain = () => { why.textContent = `${ACTION[a.action]}: ${a.reason}`; };
      attrs.onfocus = explain;
      attrs.onmouseenter = explain;
      return button(ACTION[a.action] || a.action, explain, attrs);
    }
    return button(ACTION[a.action] || a.action, () => runAction(i, a.action), attrs);
  });
  const audit = (i.audit || []).slice().reverse();
  replace(el,
    h('h2', { class: 'subject' }, subjectOf(i)),
    h('p', { class: 'meta' }, mediaChip(i), ' ', h('span', { class: `state state-${i.status}` }, STATUS[i.status]),
      i.held && h('span', { class: 'state' }, 'On hold'), ' ', serviceName(i.service), ` · priority ${i.priority}`),
    customerLine(i),
    recordLine(i),
    i.status === 'offered' && omniOfferNote(i),
    i.status === 'offered' && i.offer_expires_at && h('div', { class: 'timer' }, countdown(`offer:${i.id}`, i.offer_expires_at, 'Answer within'),
      h('div', { class: 'buttons' },
        button('Accept', () => accept(i), { class: 'primary', dataset: { key: `daccept:${i.id}` } }),
        button('Decline', () => openDecline('offer', i), { dataset: { key: `ddecline:${i.id}` } }))),
    i.status === 'wrap_up' && h('div', { class: 'timer wrapup' },
      i.wrap_up_ends_at ? countdown(`wrap:${i.id}`, i.wrap_up_ends_at, 'Wrap-up ends in') : h('span', {}, 'Wrap-up'),
      h('div', { class: 'buttons' },
        extendButton(i),
        button('Finish now', () => act('POST', `/interactions/${i.id}/wrapup/finish`), { class: 'primary', dataset: { key: `finish:${i.id}` } }))),
    i.status === 'deferred' && i.due_by && h('p', { class: 'timer' },
      `Comes back ${when(i.due_by)}`, i.due_by_was_set_manually ? ' (set by an agent)' : ' (set by a rule)'),
    i.auto_opened_due_to_due_date && i.status === 'connected' && h('p', { class: 'info' }, 'Reopened by itself at its due date.'),
    i.resumed_from && h('p', { class: 'muted' }, `Resumed from ${i.resumed_from === 'completed' ? 'History' : 'the Deferred folder'}.`),
    i.transfer_note && h('p', { class: 'note' }, h('strong', {}, 'Transfer note: '), i.transfer_note),
    consultLines(i),
    actions.length ? h('div', { class: 'actions', role: 'group', 'aria-label': 'Actions' }, actions) : null,
    why,
    h('details', { class: 'audit', open: st.auditOpen, ontoggle: (ev) => { st.auditOpen = ev.target.open; } },
      h('summary', {}, `Audit trail (${audit.length})`),
      h('ol', {}, audit.map((e) => h('li', {},
        h('time', { datetime: e.at }, when(e.at)), ' ',
        h('strong', {}, e.action.replaceAll('_', ' ')), ' ',
        e.from_status !== e.to_status && h('span', { class: 'muted' }, `${STATUS[e.from_status] || e.from_status || '–'} → ${STATUS[e.to_status] || e.to_status}`),
        h('div', {}, localTimes(e.message), e.actor && e.actor !== 'system' ? h('span', { class: 'muted' }, ` — ${agentName(e.actor)}`) : null))))));
}

function consultLines(i) {
  const mine = st.consults.filter((c) => c.interaction_id === i.id && c.initiator === st.me.id);
  return mine.map((c) => h('div', { class: 'consult', role: 'status' },
    h('p', {}, h('strong', {}, `Consult with ${targetName(c.target)}: `), c.status === 'ringing' ? 'ringing…' : 'connected'),
    c.status === 'ringing' && c.expires_at && countdown(`consult:${c.id}`, c.expires_at, 'Rings for'),
    button('End consult', () => act('POST', `/consults/${c.id}/release`), { dataset: { key: `cend:${c.id}` } })));
}

function runAction(i, action) {
  switch (action) {
    case 'consult':
    case 'transfer':
      return openRoute(i, action);
    case 'defer':
      return openDefer(i);
    case 'abandon':
      return openAbandon(i);
    default:
      return act('POST', `/interactions/${i.id}/${action}`);
  }
}

// ---- screen pop -----------------------------------------------------------

let openCTI = null; // a promise of sforce.opencti once loaded inside Salesforce

function inSalesforce() {
  return !!(window.sforce && window.sforce.opencti) || (config.openCTIURL && window.self !== window.top);
}

function loadOpenCTI() {
  if (!inSalesforce()) return null;
  if (!openCTI && window.sforce && window.sforce.opencti) openCTI = Promise.resolve(window.sforce.opencti);
  if (!openCTI) {
    openCTI = new Promise((resolve) => {
      const s = document.createElement('script');
      s.src = config.openCTIURL;
      s.onload = () => resolve(window.sforce && window.sforce.opencti ? window.sforce.opencti : null);
      s.onerror = () => resolve(null);
      document.head.append(s);
    });
  }
  return openCTI;
}

function recordURL(i) {
  if (!config.recordURL || !i.crm_id) return '';
  return config.recordURL.replaceAll('{object}', encodeURIComponent(i.crm_object)).replaceAll('{id}', encodeURIComponent(i.crm_id));
}

function recordLine(i) {
  if (!i.crm_id) return null;
  const canPop = inSalesforce() || recordURL(i);
  return h('p', { class: 'record' }, `${i.crm_object} ${i.crm_id} `,
    canPop ? button('Open record', () => screenPop(i), { class: 'link', dataset: { key: `pop:${i.id}` } }) : null);
}

async function screenPop(i) {
  const cti = await loadOpenCTI();
  if (cti) {
    cti.screenPop({
      type: cti.SCREENPOP_TYPE.SOBJECT,
      params: { recordId: i.crm_id },
      callback: (r) => { if (r && !r.success) openRecordURL(i); },
    });
    return;
  }
  openRecordURL(i);
}

function openRecordURL(i) {
  const url = recordURL(i);
  if (url) window.open(url, '_blank', 'noopener');
  else toast(`${i.crm_object} ${i.crm_id}: no CRM address is configured to open it.`, 'info');
}

// popOnce pops the record of an interaction the agent accepted or
// opened, once per interaction, inside Salesforce only (elsewhere a new
// tab would be a pop-up; "Open record" opens it there). Work that
// arrives by itself (cases routed while Available) pops nothing: three
// cases would be three records opened at once.
function popOnce(i) {
  if (!inSalesforce() || !i.crm_id || st.popped.has(i.id)) return;
  st.popped.add(i.id);
  screenPop(i);
}

// accept takes an offer, and pops its record.
async function accept(i) {
  if (await act('POST', `/interactions/${i.id}/accept`)) popOnce(find(i.id) || i);
}

// followNavigation selects the interaction of the record the agent opens
// in Salesforce (Open CTI onNavigationChange), when the agent has one.
async function followNavigation() {
  const cti = await loadOpenCTI();
  if (!cti || typeof cti.onNavigationChange !== 'function') return;
  cti.onNavigationChange({ listener: (page) => {
    const rec = page && page.recordId;
    if (!rec || !st.me) return;
    // A record id has 15 characters, or 18 with a case-insensitive suffix.
    const i = all().find((x) => x.crm_id && x.crm_id.slice(0, 15) === String(rec).slice(0, 15));
    if (!i || i.id === st.selected) return;
    st.folder = Object.keys(FOLDER_STATUSES).find((f) => FOLDER_STATUSES[f].includes(i.status)) || st.folder;
    st.status = '';
    $('status-filter').value = '';
    select(i.id, false);
  } });
}

async function showSoftphone() {
  const cti = await loadOpenCTI();
  if (cti && typeof cti.setSoftphonePanelVisibility === 'function') cti.setSoftphonePanelVisibility({ visible: true });
}

// ---- dialogs ----------------------------------------------------------------

// A dialog gives the focus back to the control that opened it when it
// closes; when a reload replaced that control meanwhile, to the control
// with the same data-key, and when there is none (the interaction was
// handed over), to the selected interaction.
const openers = new Map(); // dialog -> {el, key}

function openDialog(d) {
  for (const err of d.querySelectorAll('.error')) err.textContent = '';
  if (d.open) return;
  const el = document.activeElement;
  openers.set(d, { el, key: el && el.dataset ? el.dataset.key : undefined });
  d.showModal();
  dockAlerts();
}

// A modal dialog makes the page behind it inert: an offer that came in
// meanwhile could be neither answered nor heard by a screen reader, and
// would be missed (which sets the agent busy). So while a dialog is open,
// what waits for the agent's answer (answerCards) shows at its top too;
// the page behind stays as it is, and does not move when the dialog
// closes.
function dockAlerts() {
  if (!st.me) return;
  for (const d of document.querySelectorAll('dialog')) {
    let slot = d.querySelector(':scope > .alerts.docked');
    if (!d.open) {
      if (slot) slot.remove();
      continue;
    }
    if (!slot) {
      slot = h('section', { class: 'alerts docked', 'aria-live': 'assertive', 'aria-label': 'Offers and requests' });
      d.prepend(slot);
    }
    replace(slot, answerCards());
  }
}

function returnFocus(d) {
  const opener = openers.get(d);
  openers.delete(d);
  if (!opener || !token) return;
  const now = document.activeElement;
  if (now && now !== document.body && now.isConnected && !d.contains(now)) return; // the browser did it
  if (opener.el && opener.el.isConnected) { opener.el.focus(); return; }
  const again = opener.key && document.querySelector(`#app [data-key="${CSS.escape(opener.key)}"]`);
  if (again) again.focus();
  else $('detail').focus();
}

for (const d of document.querySelectorAll('dialog')) {
  for (const b of d.querySelectorAll('button.close')) b.addEventListener('click', () => d.close());
  d.addEventListener('close', () => { dockAlerts(); returnFocus(d); });
}
// Return in the search field chooses; it must not submit (and close) the dialog.
$('dlg-route').querySelector('form').addEventListener('submit', (ev) => ev.preventDefault());

// Decline: an offer or a transfer request, with an optional reason.
let declining = null;
function openDecline(kind, obj, subject) {
  declining = { kind, obj };
  $('decline-subject').textContent = kind === 'offer' ? subjectOf(obj) : `Transfer request: ${subject}`;
  $('decline-reason').value = '';
  openDialog($('dlg-decline'));
  $('decline-reason').focus();
}
$('dlg-decline').querySelector('form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const { kind, obj } = declining;
  const reason = $('decline-reason').value.trim();
  const path = kind === 'offer' ? `/interactions/${obj.id}/decline` : `/transfers/${obj.id}/decline`;
  if (kind === 'offer') ux.offers.delete(obj.id); // declined, not missed
  if (await act('POST', path, reason ? { reason } : {}, $('decline-error'))) $('dlg-decline').close();
});

// Abandon, behind its warning.
let abandoning = null;
function openAbandon(i) {
  abandoning = i;
  $('abandon-subject').textContent = subjectOf(i);
  $('abandon-reason').value = '';
  openDialog($('dlg-abandon'));
  $('dlg-abandon').querySelector('button.close').focus();
}
$('dlg-abandon').querySelector('form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const reason = $('abandon-reason').value.trim();
  const body = { confirm: true };
  if (reason) body.reason = reason;
  if (await act('POST', `/interactions/${abandoning.id}/abandon`, body, $('abandon-error'))) $('dlg-abandon').close();
});

// Defer: presets or a date and time; the server has the last word on
// whether the time is in the future.
let deferring = null;
function localValue(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
function openDefer(i) {
  deferring = i;
  $('defer-subject').textContent = subjectOf(i);
  const input = $('defer-at');
  input.min = localValue(new Date(serverNow() + 60e3)); // the current minute has begun: it is past
  input.value = localValue(new Date(serverNow() + 3600e3));
  input.removeAttribute('aria-invalid');
  openDialog($('dlg-defer'));
  input.focus();
}
$('defer-presets').addEventListener('click', (ev) => {
  const preset = ev.target.closest('button') && ev.target.closest('button').dataset.preset;
  if (!preset) return;
  const d = new Date(serverNow());
  if (preset === '1h') d.setHours(d.getHours() + 1);
  if (preset === '4h') d.setHours(d.getHours() + 4);
  if (preset === 'tomorrow') { d.setDate(d.getDate() + 1); d.setHours(9, 0, 0, 0); }
  if (preset === 'week') d.setDate(d.getDate() + 7);
  $('defer-at').value = localValue(d);
  $('defer-at').removeAttribute('aria-invalid');
  $('defer-error').textContent = '';
  $('defer-go').focus();
});
$('dlg-defer').querySelector('form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = $('defer-at');
  const at = new Date(input.value); // datetime-local is local time
  if (!input.value || Number.isNaN(at.getTime())) {
    $('defer-error').textContent = 'Choose the date and time it should come back.';
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return;
  }
  const ok = await act('POST', `/interactions/${deferring.id}/defer`, { due_by: at.toISOString() }, $('defer-error'));
  if (ok) {
    $('dlg-defer').close();
    toast(`Deferred until ${when(at.toISOString())}.`, 'info');
  } else {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
});

// Consult or transfer: the directory, alphabetical, searchable, with the
// arrow keys and Return.
let directory = null;
const route = { i: null, mode: 'transfer', choice: null, active: 0, matches: [] };

async function loadDirectory() {
  const d = await api('GET', '/directory');
  directory = [...d.agents, ...d.services].sort((a, b) =>
    a.name.localeCompare(b.name, undefined, { sensitivity: 'base' }) || a.kind.localeCompare(b.kind));
}

async function openRoute(i, mode) {
  i = find(i.id) || i;
  route.i = i;
  route.mode = mode;
  route.choice = null;
  route.active = 0;
  $('route-search').value = '';
  $('route-note').value = i.transfer_note || '';
  $('route-cold').checked = false;
  openDialog($('dlg-route'));
  renderRouteDialog(); // with the directory as last loaded, while it reloads
  $('route-search').focus();
  try {
    await loadDirectory();
  } catch (err) {
    $('route-error').textContent = err.message;
  }
  renderRouteDialog();
}

function routeMatches() {
  const q = $('route-search').value.trim().toLowerCase();
  const me = st.me.id;
  return (directory || []).filter((e) => {
    if (e.kind === 'agent' && e.id === me) return false;
    if (route.mode === 'consult' && e.kind !== 'agent') return false;
    return !q || e.name.toLowerCase().includes(q) || e.id.toLowerCase().includes(q);
  });
}

const consultable = (e) => e.kind === 'agent' && (e.presence === 'available' || e.presence === 'interruptible');
const isNumber = (s) => /^\+[1-9]\d{7,14}$/.test(s.replace(/[\s-]/g, ''));

function renderRouteDialog() {
  const d = $('dlg-route');
  if (!d.open || !route.i) return;
  const i = find(route.i.id) || route.i;
  route.i = i;
  const can = enabled(i);
  const both = can.has('consult') && can.has('transfer');
  $('route-modes').hidden = !both;
  for (const r of d.querySelectorAll('input[name=route-mode]')) r.checked = r.value === route.mode;
  $('route-title').textContent = route.mode === 'consult' ? 'Consult' : 'Transfer';
  $('route-subject').textContent = subjectOf(i);
  $('route-note-box').hidden = route.mode !== 'transfer';

  route.matches = routeMatches();
  const q = $('route-search').value.trim();
  const exact = route.matches.filter((e) => e.name.toLowerCase() === q.toLowerCase());
  if (exact.length === 1 && !route.choice && (route.mode !== 'consult' || consultable(exact[0]))) route.choice = exact[0];
  route.active = Math.min(route.active, Math.max(0, route.matches.length - 1));
  const list = route.matches.map((e, n) => {
    const off = route.mode === 'consult' && !consultable(e);
    const chosen = route.choice && route.choice.id === e.id && route.choice.kind === e.kind;
    return h('li', {
      role: 'option', id: `opt-${n}`, class: `${n === route.active ? 'active' : ''}${off ? ' off' : ''}`,
      'aria-selected': String(!!chosen), 'aria-disabled': off ? 'true' : null,
      onclick: () => { route.active = n; choose(); },
    },
    h('span', { class: 'name' }, e.name),
    e.kind === 'agent'
      ? h('span', { class: `presence p-${e.presence}` }, PRESENCE[e.presence] || e.presence)
      : h('span', { class: 'queue' }, `Service · queue ${e.queue_size} · wait ${duration(Math.round(e.wait_seconds || 0))}`));
  });
  replace($('route-list'), list);
  $('route-search').setAttribute('aria-activedescendant', route.matches.length ? `opt-${route.active}` : '');
  const activeEl = $(`opt-${route.active}`);
  if (activeEl) activeEl.scrollIntoView({ block: 'nearest' });
  $('route-nomatch').hidden = route.matches.length > 0 || !directory || !q;

  // What is going on with a transfer of this interaction.
  const progress = route.mode === 'transfer' ? outgoingTransfer(i.id) : null;
  const pending = st.transfers.some((t) => t.interaction_id === i.id && t.initiator === st.me.id);
  replace($('route-progress'), progress);
  $('route-pick').hidden = pending;

  const go = $('route-go');
  const dial = route.mode === 'consult' && isNumber(q) && !route.choice;
  go.hidden = pending;
  go.textContent = route.mode === 'consult'
    ? (dial ? `Dial ${q.replace(/[\s-]/g, '')}` : route.choice ? `Consult ${route.choice.name}` : 'Consult')
    : route.choice ? `Transfer to ${route.choice.name}` : 'Start transfer';
  go.disabled = !(route.choice || dial) || !can.has(route.mode);
}

// choose takes the active entry; moveFocus sends the focus on to the note
// (transfer) or the dial button (consult). Return moves it on keyup, so
// the key's own character does not land in the note.
function choose(moveFocus = true) {
  const e = route.matches[route.active];
  if (!e) return;
  $('route-error').textContent = '';
  if (route.mode === 'consult' && !consultable(e)) {
    $('route-error').textContent = `${e.name} is ${PRESENCE[e.presence] || e.presence}: only agents who are Available now or Interruptible can be consulted.`;
    return;
  }
  route.choice = e;
  renderRouteDialog();
  if (moveFocus) focusAfterChoice();
}

function focusAfterChoice() {
  if (route.mode === 'transfer') $('route-note').focus();
  else $('route-go').focus();
}

let chosenByKey = false;

$('route-search').addEventListener('input', () => {
  route.choice = null;
  route.active = 0;
  $('route-error').textContent = '';
  renderRouteDialog();
});
$('route-search').addEventListener('keydown', (ev) => {
  const n = route.matches.length;
  if (ev.key === 'ArrowDown' && n) { route.active = (route.active + 1) % n; renderRouteDialog(); ev.preventDefault(); }
  if (ev.key === 'ArrowUp' && n) { route.active = (route.active - 1 + n) % n; renderRouteDialog(); ev.preventDefault(); }
  if (ev.key === 'Enter') {
    // Return only chooses (a number to dial: the focus goes to Dial);
    // sending takes the button, or Ctrl+Enter.
    ev.preventDefault();
    if (ev.ctrlKey || ev.metaKey) return sendRoute();
    const q = ev.target.value.trim();
    // The focus moves when the key comes up: moved now, the same key
    // would press the button it lands on.
    if (route.mode === 'consult' && isNumber(q) && !n) { chosenByKey = true; return; }
    choose(false);
    chosenByKey = !!route.choice;
  }
});
$('route-search').addEventListener('keyup', (ev) => {
  if (ev.key === 'Enter' && chosenByKey) focusAfterChoice();
  chosenByKey = false;
});
for (const r of document.querySelectorAll('input[name=route-mode]')) {
  r.addEventListener('change', () => { route.mode = r.value; route.choice = null; renderRouteDialog(); });
}
$('route-go').addEventListener('click', () => startRoute());
$('route-note').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); sendRoute(); }
});

// sendRoute is Ctrl+Enter in the dialog: what the enabled send button does.
function sendRoute() {
  if (!$('route-go').disabled && !$('route-go').hidden && !$('route-go').dataset.offline) startRoute();
}
$('route-close').addEventListener('click', () => $('dlg-route').close());

async function startRoute() {
  const i = route.i;
  const err = $('route-error');
  err.textContent = '';
  if (route.mode === 'consult') {
    const q = $('route-search').value.trim().replace(/[\s-]/g, '');
    const target = route.choice ? { agent: route.choice.id } : { number: q };
    if (await act('POST', `/interactions/${i.id}/consults`, { target }, err)) $('dlg-route').close();
    return;
  }
  if (!route.choice) return;
  st.failed.delete(i.id);
  const target = route.choice.kind === 'agent' ? { agent: route.choice.id } : { service: route.choice.id };
  const cold = $('route-cold').checked;
  const body = { target, mode: cold ? 'cold' : 'warm', note: $('route-note').value };
  if (!cold) {
    await act('POST', `/interactions/${i.id}/transfers`, body, err);
    return;
  }
  // Cold: the work goes to routing for the target at once, and reaches
  // them when they have room, which may be now or later.
  const name = route.choice.name;
  const when = route.choice.kind === 'agent' ? 'they get it as soon as they have room' : 'its next free agent gets it';
  handingOver.add(i.id);
  try {
    if (await act('POST', `/interactions/${i.id}/transfers`, body, err)) {
      $('dlg-route').close();
      toast(`Transferred to ${name}: ${when}.`, 'info');
    }
  } finally {
    handingOver.delete(i.id);
  }
}

// A transfer that completes takes the interaction away: close its dialog.
// closeDialogsIfGone closes a dialog about an interaction that has left
// the agent's Ongoing folder meanwhile (handed over, closed or reassigned
// in Salesforce, deferred elsewhere): what it would do can only be
// refused now.
// Work the agent hands over themselves (Transfer now, a cold transfer)
// leaves by their own hand: that is no news.
function closeDialogsIfGone() {
  const offer = declining && declining.kind === 'offer' ? declining.obj : null;
  for (const [d, i] of [[$('dlg-route'), route.i], [$('dlg-defer'), deferring], [$('dlg-abandon'), abandoning], [$('dlg-decline'), offer]]) {
    if (d.open && i && !st.lists.ongoing.some((o) => o.id === i.id)) {
      d.close();
      if (!handingOver.has(i.id)) {
        toast(`“${subjectOf(i)}” is no longer in your Ongoing folder: it was handed over, closed or deferred meanwhile.`, 'info');
      }
    }
  }
}

// handingOver holds the interactions the agent is handing over now.
const handingOver = new Set();

// handOver runs the request that hands interaction id over (send), and
// says to whom when it is done.
async function handOver(id, to, send) {
  handingOver.add(id);
  try {
    const ok = await send();
    if (ok) toast(`Handed over to ${to}.`, 'info');
    return ok;
  } finally {
    handingOver.delete(id);
  }
}

// ---- controls -------------------------------------------------------------

$('signin-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const t = $('signin-token').value.trim();
  if (!t) { $('signin-error').textContent = 'Enter your token.'; return; }
  signIn(t);
});

$('signout').addEventListener('click', () => signOut(''));
$('signin-sf').addEventListener('click', salesforceSignIn);

// Arrow keys on the presence selector change it option by option; the
// option it rests on wins, even when it changed again while the previous
// change was on its way.
let presencePending = false;
let presenceWanted = null;
$('presence').addEventListener('blur', () => { if (st.me) renderHeader(); });
$('presence').addEventListener('change', async (ev) => {
  presenceWanted = ev.target.value;
  if (presencePending) return;
  presencePending = true;
  try {
    for (let want = presenceWanted; want !== null; want = presenceWanted) {
      presenceWanted = null;
      if (st.me && st.me.presence === want) continue;
      await api('PUT', '/me/presence', { presence: want });
      st.me = await api('GET', '/me');
    }
  } catch (err) {
    toast(err.message);
  } finally {
    presencePending = false;
    presenceWanted = null;
    if (st.me) renderHeader();
    refresh();
  }
});

const tabs = [...document.querySelectorAll('[role=tab]')];
for (const tab of tabs) {
  tab.addEventListener('click', () => {
    st.folder = tab.dataset.folder;
    st.status = '';
    $('status-filter').value = '';
    render();
  });
  tab.addEventListener('keydown', (ev) => {
    const k = tabs.indexOf(tab);
    const next = {
      ArrowRight: tabs[(k + 1) % tabs.length], ArrowLeft: tabs[(k + tabs.length - 1) % tabs.length],
      Home: tabs[0], End: tabs[tabs.length - 1],
    }[ev.key];
    if (next) { next.focus(); next.click(); ev.preventDefault(); }
  });
}

$('status-filter').addEventListener('change', (ev) => {
  st.status = ev.target.value;
  if (st.status) st.folder = Object.keys(FOLDER_STATUSES).find((f) => FOLDER_STATUSES[f].includes(st.status));
  render();
});

// Up and down move between the rows of the list.
$('list').addEventListener('keydown', (ev) => {
  if (ev.key !== 'ArrowDown' && ev.key !== 'ArrowUp') return;
  const rows = [...$('list').querySelectorAll('button.pick')];
  const k = rows.indexOf(document.activeElement);
  if (k < 0) return;
  const next = rows[ev.key === 'ArrowDown' ? Math.min(k + 1, rows.length - 1) : Math.max(k - 1, 0)];
  next.focus();
  ev.preventDefault();
});

// ---- an agent's day: alerts, plain words, live work first (issue 15) -------

// The sentences the panel shows for a refusal, by the problem's code: the
// server's detail may name internal ids ("interaction int_...: ...").
const PROBLEM_TEXT = {
  unauthorized: 'You are signed out. Sign in again.',
  forbidden: 'This is not yours any more: it may have been handed over.',
  not_found: 'It is no longer there: it was handed over, closed or removed meanwhile.',
  invalid_request: 'The panel sent something ctibridge did not understand. Reload the page and try again.',
  method_not_allowed: 'The panel sent something ctibridge did not understand. Reload the page and try again.',
  action_not_allowed: 'That is not possible for this kind of work.',
  invalid_transition: 'That is not possible in its current state; the panel now shows where it stands.',
  due_by_required: 'Choose the date and time it should come back.',
  due_by_in_past: 'That time has passed: choose a time in the future.',
  due_by_out_of_range: 'That date is too far away: choose an earlier one.',
  target_unavailable: 'They cannot take it now: choose someone who is Available now.',
  conflict: 'Something else stands in the way right now; the panel now shows what it is.',
  too_large: 'That text is too long: shorten it and try again.',
  too_long: 'That text is too long: shorten it and try again.',
  invalid_text: 'That text has characters that cannot be stored: remove them and try again.',
  rate_limited: 'Too many requests at once: wait a moment and try again.',
  unavailable: 'ctibridge is restarting: try again in a moment.',
  internal: 'ctibridge could not do that: try again, and tell your administrator if it keeps failing.',
};

// A conflict is one of a few things; the detail says which.
const CONFLICT_TEXT = [
  [/wrap-up extension/i, 'No wrap-up extension left: finish the wrap-up now, or let it end.'],
  [/consult/i, 'A consult is already under way: end it first.'],
  [/transfer/i, 'A transfer of it is already under way.'],
  [/capacity|room/i, 'You have no room for more work of this kind now.'],
];

// plainProblem is the sentence for a refusal: from the code, never the
// server's detail (which may name internal ids); a failure without a code
// (the network) keeps the panel's own words.
function plainProblem(status, body) {
  const code = body && body.code;
  // The server's own sentence for agents, when it has one: "Already
  // accepted.", "No room for more cases (5 of 5 in use).", or that the
  // database is out for a moment.
  if (body && body.reason) return body.reason;
  if (code === 'conflict') {
    const hit = CONFLICT_TEXT.find(([re]) => re.test(body.detail || ''));
    if (hit) return hit[1];
  }
  if (code && PROBLEM_TEXT[code]) return PROBLEM_TEXT[code];
  if (!code && body && body.detail && status === 0) return body.detail;
  return status >= 500 ? PROBLEM_TEXT.internal : 'ctibridge refused that. Reload the page and try again.';
}

// The actions that fit each status; the others the media type allows are
// not shown (no row of grey buttons on completed work). Accept and
// Decline, Extend and Finish have their own places.
const STATUS_ACTIONS = {
  connected: ['release', 'hold', 'retrieve', 'consult', 'transfer', 'defer', 'abandon'],
  wrap_up: ['abandon'],
  deferred: ['resume'],
  completed: ['resume'],
};

function fitsStatus(i, action) {
  if (!(STATUS_ACTIONS[i.status] || []).includes(action)) return false;
  if (action === 'hold') return !i.held;
  if (action === 'retrieve') return !!i.held;
  return true;
}

// localTimes shows the RFC 3339 times in a server's text (an audit
// entry's "Deferred until 2026-12-06T17:00:00Z") as the agent's own.
function localTimes(text) {
  return (text || '').replace(/\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)/g, (t) => when(t) || t);
}

// extendButton is "Extend (1 left)"; with none left it is disabled and
// says why.
function extendButton(i) {
  const left = i.wrap_up_extensions_left;
  const label = typeof left === 'number' ? `Extend (${left} left)` : 'Extend';
  const key = { dataset: { key: `extend:${i.id}` } };
  if (left !== 0) return button(label, () => act('POST', `/interactions/${i.id}/wrapup/extend`), key);
  const explain = () => { const why = $('why'); if (why) why.textContent = 'Extend: No wrap-up extension left.'; };
  return button(label, explain, { ...key, 'aria-disabled': 'true', 'aria-describedby': 'why', title: 'No wrap-up extension left.', onfocus: explain, onmouseenter: explain });
}

// customerLine is who the customer is and, on a live call, how long the
// agent has been talking.
function customerLine(i) {
  const talking = i.media === 'live' && i.status === 'connected' && i.connected_at;
  if (!i.customer && !talking) return null;
  return h('p', { class: 'customer' },
    i.customer ? h('span', {}, h('span', { class: 'muted' }, 'Customer '), h('strong', {}, i.customer)) : null,
    talking ? talkTimer(i) : null);
}

// talkTimer counts up from when the work connected to this agent.
function talkTimer(i) {
  const s = talkSeconds(i.connected_at);
  return h('span', { class: 'talk', role: 'timer', dataset: { since: i.connected_at }, 'aria-label': `Talking for ${duration(s)}` },
    h('span', { class: 'muted' }, ' Talking '), h('strong', { class: 'talk-time', 'aria-hidden': 'true' }, duration(s)));
}

const talkSeconds = (iso) => Math.max(0, Math.floor((serverNow() - Date.parse(iso)) / 1000));

function talkTick() {
  for (const el of document.querySelectorAll('.talk[data-since]')) {
    const s = talkSeconds(el.dataset.since);
    el.querySelector('.talk-time').textContent = duration(s);
    el.setAttribute('aria-label', `Talking for ${duration(s)}`);
  }
}

// renderLive pins the agent's live work (calls) on top: who, what, the
// talk timer and the actions that fit.
function renderLive() {
  const me = st.me.id;
  const calls = st.lists.ongoing.filter((i) => i.media === 'live' && i.status === 'connected' && i.owner === me);
  const cards = calls.map((i) => {
    const can = enabled(i);
    const quick = ['hold', 'retrieve', 'release'].filter((a) => can.has(a) && fitsStatus(i, a));
    return h('article', { class: 'live-call', 'aria-label': `Live call: ${i.customer || subjectOf(i)}` },
      h('p', { class: 'line1' }, h('strong', {}, i.customer ? `On a call with ${i.customer}` : 'On a call'),
        i.held ? h('span', { class: 'state' }, 'On hold') : null),
      h('p', { class: 'subject' }, subjectOf(i)),
      i.connected_at ? talkTimer(i) : null,
      h('div', { class: 'buttons' },
        quick.map((a) => button(ACTION[a], () => act('POST', `/interactions/${i.id}/${a}`), { dataset: { key: `live:${a}:${i.id}` } })),
        i.id !== st.selected ? button('Open', () => select(i.id), { class: 'link', dataset: { key: `live:open:${i.id}` } }) : null));
  });
  replace($('live'), cards);
  $('live').hidden = cards.length === 0;
}

const MUTE_KEY = 'ctibridge.muted';
const TITLE = document.title;
const ux = {
  alerted: new Set(), // offers and requests already rung for
  offers: new Map(), // id -> offer to me at the last render
  missed: null, // the last offer that timed out, until the agent is available again
  vanished: null, // {i, until}: an offer that went away unanswered, not yet known to be missed
  audio: null,
  cti: 'idle', // what the utility bar item shows
};

// pendingWork is what waits for the agent's answer: offers to them and
// transfer requests delivered to them.
function pendingWork() {
  const me = st.me.id;
  return {
    offers: st.lists.ongoing.filter((i) => i.status === 'offered' && i.owner === me),
    requests: st.transfers.filter((t) => t.assignee === me && t.initiator !== me && t.status === 'initiated'),
  };
}

function renderUX() {
  if (!st.me) return;
  renderLive();
  const { offers, requests } = pendingWork();
  noteMissed(offers);
  const fresh = [];
  const keys = new Set();
  for (const i of offers) {
    keys.add(`o:${i.id}`);
    if (!ux.alerted.has(`o:${i.id}`)) fresh.push({ key: `o:${i.id}`, title: `Incoming ${MEDIA[i.media].toLowerCase()}`, body: [i.customer, subjectOf(i)].filter(Boolean).join(' · ') });
  }
  for (const t of requests) {
    keys.add(`t:${t.id}`);
    if (!ux.alerted.has(`t:${t.id}`)) {
      const i = st.others.get(t.interaction_id) || find(t.interaction_id);
      fresh.push({ key: `t:${t.id}`, title: `Transfer request from ${agentName(t.initiator)}`, body: i ? subjectOf(i) : '' });
    }
  }
  ux.alerted = keys;
  if (fresh.length) {
    ring();
    for (const f of fresh) notify(f);
  }
  const n = offers.length + requests.length;
  const what = offers.length ? 'Offer' : requests.length ? 'Transfer request' : ux.missed ? 'Missed offer' : '';
  // While an offer that went away may yet prove missed, the title and the
  // utility bar keep saying what they said: no idle flicker between.
  if (n > 0 || !ux.vanished) {
    document.title = n ? `(${n}) ${what} - ctibridge` : what ? `${what} - ctibridge` : TITLE;
    utilityBar(n ? `${what} (${n})` : what, n > 0 || !!ux.missed);
  }
  renderMissed();
  lockActions();
}

// noteMissed: an offer to this agent that went away without an answer,
// while they are no longer available, timed out (routing.push_timeout),
// and ctibridge changed their presence (routing.push_timeout_presence).
// The offer's event and the presence change arrive as two events, in
// either order, so an offer that went away unanswered is kept for a few
// seconds (ux.vanished) until the presence says whether it was missed.
function noteMissed(offers) {
  const me = st.me;
  const now = Date.now();
  for (const [id, i] of ux.offers) {
    if (offers.some((o) => o.id === id)) continue;
    const then = find(id);
    const taken = then && then.owner === me.id && then.status !== 'offered';
    if (!taken) {
      ux.vanished = { i, until: now + VANISHED_MS };
      setTimeout(renderUX, VANISHED_MS + 50); // settle it even if nothing else happens
    }
  }
  ux.offers = new Map(offers.map((i) => [i.id, i]));
  if (ux.vanished && ux.vanished.until < now) ux.vanished = null;
  if (me.presence === 'busy' || me.presence === 'interruptible') {
    if (ux.vanished) ux.missed = ux.vanished.i;
    ux.vanished = null;
  } else if (me.presence === 'logged_out' || (me.presence === 'available' && !ux.vanished)) {
    ux.missed = null;
  }
}

const VANISHED_MS = 5000;

// renderMissed explains a missed offer in one sentence, with one button.
function renderMissed() {
  const i = ux.missed;
  replace($('missed'), i && h('article', { class: 'alert missed', 'aria-label': 'Missed offer' },
    h('p', {}, `You missed “${subjectOf(i)}”: it was not answered in time, so you are now ${PRESENCE[st.me.presence]} and receive no new work.`),
    h('div', { class: 'buttons' }, button('Go available', goAvailable, { class: 'primary', dataset: { key: 'missed:available' } }))));
}

async function goAvailable() {
  askNotifications();
  try {
    await api('PUT', '/me/presence', { presence: 'available' });
    st.me = await api('GET', '/me');
    ux.missed = null;
  } catch (err) {
    toast(err.message);
  }
  render();
  refresh();
}

// ring plays a short two-tone chime made with WebAudio (no sound file),
// unless the agent muted it.
function ring() {
  if (localStorage.getItem(MUTE_KEY) === '1') return;
  const AC = window.AudioContext || window.webkitAudioContext;
  if (!AC) return;
  try {
    ux.audio = ux.audio || new AC();
    const ctx = ux.audio;
    if (ctx.state === 'suspended') ctx.resume();
    const t = ctx.currentTime;
    for (const [at, hz] of [[0, 880], [0.22, 660]]) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = 'sine';
      osc.frequency.value = hz;
      gain.gain.setValueAtTime(0.0001, t + at);
      gain.gain.exponentialRampToValueAtTime(0.25, t + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + at + 0.2);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t + at);
      osc.stop(t + at + 0.22);
    }
  } catch {
    // No sound is better than a broken panel.
  }
}

// notify raises a desktop notification while the page is hidden, if the
// agent allowed them.
function notify(f) {
  if (document.visibilityState !== 'hidden' || !('Notification' in window) || Notification.permission !== 'granted') return;
  try {
    const n = new Notification(f.title, { body: f.body, tag: `ctibridge-${f.key}` });
    n.onclick = () => { window.focus(); n.close(); };
  } catch {
    // Some browsers only notify from a service worker.
  }
}

// askNotifications asks for permission, from a user gesture only (going
// available, or the bell).
function askNotifications() {
  if ('Notification' in window && Notification.permission === 'default') Notification.requestPermission().catch(() => {});
}

// utilityBar sets the label and icon of the softphone's utility bar item
// in Salesforce (Open CTI), when there is one.
async function utilityBar(label, alerting) {
  const want = alerting ? `alert:${label}` : 'idle';
  if (ux.cti === want) return;
  ux.cti = want;
  const cti = window.sforce && window.sforce.opencti ? window.sforce.opencti : await loadOpenCTI();
  if (!cti) return;
  if (typeof cti.setSoftphoneItemLabel === 'function') cti.setSoftphoneItemLabel({ label: alerting ? label : 'ctibridge' });
  if (typeof cti.setSoftphoneItemIcon === 'function') cti.setSoftphoneItemIcon({ key: alerting ? 'alert' : 'call' });
}

function renderMute() {
  const muted = localStorage.getItem(MUTE_KEY) === '1';
  const b = $('mute');
  b.setAttribute('aria-pressed', String(muted));
  b.textContent = muted ? 'Sound off' : 'Sound on';
  b.title = muted ? 'Offers and requests are silent. Turn the sound on.' : 'Offers and requests ring. Mute them.';
}

$('mute').addEventListener('click', () => {
  localStorage.setItem(MUTE_KEY, localStorage.getItem(MUTE_KEY) === '1' ? '0' : '1');
  renderMute();
});
$('presence').addEventListener('change', (ev) => { if (ev.target.value === 'available') askNotifications(); });

// While the event stream is down the agent may miss work: a banner says
// so and the actions are disabled until it is back.
let offline = false;

function connectionBanner(ok) {
  offline = !ok;
  $('offline').hidden = ok;
  lockActions();
}

const LOCKED = '#alerts button, #missed button, #live button, #detail button, #list button.quick, #dlg-route .buttons button.primary, ' +
  '#dlg-defer .buttons button[type=submit], #dlg-abandon .buttons button[type=submit], #dlg-decline .buttons button[type=submit]';

function lockActions() {
  for (const b of document.querySelectorAll(LOCKED)) {
    if (b.classList.contains('link') && !b.dataset.action) continue; // Open record, Later, Dismiss: no change on the server
    if (offline) {
      if (b.dataset.offline) continue;
      b.dataset.offline = b.getAttribute('aria-disabled') || 'none';
      b.setAttribute('aria-disabled', 'true');
      b.setAttribute('aria-describedby', 'offline');
    } else if (b.dataset.offline) {
      if (b.dataset.offline === 'none') { b.removeAttribute('aria-disabled'); b.removeAttribute('aria-describedby'); }
      else b.setAttribute('aria-describedby', 'why');
      delete b.dataset.offline;
    }
  }
}

// A locked button does nothing while the connection is down.
document.addEventListener('click', (ev) => {
  const b = offline && ev.target.closest && ev.target.closest('button[data-offline]');
  if (b) { ev.preventDefault(); ev.stopImmediatePropagation(); }
}, true);
document.addEventListener('submit', (ev) => {
  if (offline && ev.target.closest('dialog')) { ev.preventDefault(); ev.stopImmediatePropagation(); }
}, true);

renderMute();
setInterval(talkTick, 1000);

// ---- start ----------------------------------------------------------------

setInterval(tick, 250);
takeTokenFromURL();
const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) signIn(saved);
else resume();
followNavigation();
