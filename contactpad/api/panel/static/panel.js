// ctibridge agent panel. Plain JavaScript, no build step.
//
// The server is the authority: this page lists what the API returns, shows
// the actions each interaction's view marks enabled (and why the others are
// not), and computes every countdown from the server's timestamps. It
// follows the event stream and reloads its state when something changes.

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
  seen: null, // id -> status of Ongoing at the last load (for screen pops)
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
// alone), keeping the focus on the element with the same data-key.
function replace(el, ...children) {
  const next = document.createElement(el.tagName);
  next.append(...children.flat().filter(Boolean));
  if (next.innerHTML === el.innerHTML) return;
  const active = document.activeElement;
  const key = active && el.contains(active) ? active.dataset.key : null;
  el.replaceChildren(...next.childNodes);
  if (key) {
    const again = el.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (again) again.focus();
  }
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

function when(iso) {
  const d = new Date(iso);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
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
  // Reload as well in case the stream is reconnecting.
  if (expired) setTimeout(refresh, 1200);
}

// ---- API ------------------------------------------------------------------

const PUSHED_OUT = 'This panel is open in too many windows, and this one no longer receives work. Reload it to use it here.';
const UNREACHABLE = 'ctibridge cannot be reached. Check your connection; the panel retries by itself.';

class Problem extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.title)) || `The server answered ${status}.`);
    this.status = status;
    this.code = body && body.code;
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
    throw new Problem(res.status, data);
  }
  return data;
}

// act runs an action and reloads; a refusal is shown with the server's
// own words. It returns whether the action succeeded.
async function act(method, path, body, where) {
  try {
    await api(method, path, body);
    await refresh();
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
  token = t;
  let me;
  try {
    me = await api('GET', '/me');
  } catch (err) {
    showSignIn(err.status === 401 ? 'That token is not known to ctibridge.' : err.message);
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

function showSignIn(message) {
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
  Object.assign(st, { me: null, selected: null, detail: null, loaded: false, seen: null });
  st.failed.clear();
  st.inactive.clear();
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
  while (!ctrl.signal.aborted) {
    try {
      const headers = { ...authHeaders(token), Accept: 'text/event-stream' };
      if (lastEventId) headers['Last-Event-ID'] = lastEventId;
      const res = await fetch(`${API}/events`, { headers, signal: ctrl.signal, cache: 'no-store', credentials: 'same-origin' });
      if (res.status === 401) { signOut(notAccepted()); return; }
      if (!res.ok) throw new Error(`events: ${res.status}`);
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
    await new Promise((r) => setTimeout(r, delay + Math.random() * 500));
    delay = Math.min(delay * 2, 30000);
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
      if (line.startsWith(':')) continue;
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
  refresh();
}

// ---- loading state --------------------------------------------------------

const acceptWindow = new Map(); // transfer id -> seconds the target had to accept
let loading = null;
let again = false;

// refresh reloads everything the panel shows; calls during a reload make
// one more reload after it, never several at once.
function refresh() {
  if (!token) return Promise.resolve();
  if (loading) { again = true; return loading; }
  loading = (async () => {
    do {
      again = false;
      try {
        await load();
      } catch (err) {
        if (token) toast(err.message);
      }
    } while (again && token);
  })().finally(() => { loading = null; });
  return loading;
}

async function load() {
  const [me, ongoing, deferred, history, transfers, consults] = await Promise.all([
    api('GET', '/me'),
    api('GET', '/interactions?folder=ongoing'),
    api('GET', '/interactions?folder=deferred'),
    api('GET', '/interactions?folder=history&order=newest&limit=100'),
    api('GET', '/transfers'),
    api('GET', '/consults'),
  ]);
  st.me = me;
  if (!directory) await loadDirectory().catch(() => {});
  st.lists = { ongoing: ongoing.interactions, deferred: deferred.interactions, history: history.interactions };
  st.transfers = transfers.transfers;
  for (const t of st.transfers) {
    // A failed transfer no longer has its deadline; remember how long the
    // target had (the accept time runs from the request) to say so.
    if (t.expires_at) acceptWindow.set(t.id, Math.round((Date.parse(t.expires_at) - Date.parse(t.created_at)) / 1000));
  }
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

  if (st.selected) {
    try {
      st.detail = await api('GET', `/interactions/${encodeURIComponent(st.selected)}`);
    } catch {
      st.selected = null; // transferred away, or no longer ours to see
      st.detail = null;
    }
  }
  for (const id of st.inactive) {
    if (!st.lists.ongoing.some((i) => i.id === id && i.status === 'connected')) st.inactive.delete(id);
  }
  popNewlyConnected();
  st.loaded = true;
  render();
}

const all = () => [...st.lists.ongoing, ...st.lists.deferred, ...st.lists.history];
const find = (id) => all().find((i) => i.id === id) || (st.detail && st.detail.id === id ? st.detail : null) ||
  (st.others.get(id) || null);

// ---- rendering ------------------------------------------------------------

function render() {
  renderHeader();
  renderAlerts();
  renderFolders();
  renderDetail();
  closeRouteIfGone();
  renderRouteDialog();
  tick();
}

function renderHeader() {
  const me = st.me;
  $('me-name').textContent = me.name;
  // Leave the selector alone while the agent is choosing or a change is on
  // its way: a stale value there would be sent back as a change on blur.
  const sel = $('presence');
  if (!presencePending && document.activeElement !== sel) sel.value = me.presence;
  const parts = [];
  for (const [media, label] of Object.entries({ live: 'Calls', 'semi-live': 'Chats', 'non-live': 'Cases' })) {
    const cap = (me.capacity || {})[media] || 0;
    if (cap) parts.push(`${label} ${(me.load || {})[media] || 0}/${cap}`);
  }
  $('load').textContent = parts.join(' · ');
}

function subjectOf(i) {
  return i.subject || `${i.crm_object} ${i.crm_id}`;
}

function mediaChip(i) {
  return h('span', { class: `chip media-${i.media}` }, MEDIA[i.media] || i.media);
}

function renderAlerts() {
  const me = st.me.id;
  const cards = [];
  for (const i of st.lists.ongoing.filter((x) => x.status === 'offered')) {
    cards.push(h('article', { class: 'alert offer', 'aria-label': `Offer: ${subjectOf(i)}` },
      h('p', {}, h('strong', {}, `Incoming ${MEDIA[i.media].toLowerCase()}`), ' ', mediaChip(i)),
      h('p', { class: 'subject' }, subjectOf(i)),
      i.offer_expires_at && countdown(`offer:${i.id}`, i.offer_expires_at, 'Answer within'),
      h('div', { class: 'buttons' },
        button('Accept', () => act('POST', `/interactions/${i.id}/accept`), { class: 'primary', dataset: { key: `accept:${i.id}` } }),
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
        h('div', { class: 'buttons' },
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
          button('Transfer now', () => act('POST', `/transfers/${t.id}/complete`), { class: 'primary', dataset: { key: `tnow:${t.id}` } }),
          button('Cancel transfer', () => act('POST', `/transfers/${t.id}/cancel`), { dataset: { key: `tcancel:${t.id}` } })));
    }
    return h('div', { class: 'transfer waiting', role: 'status' },
      h('p', {}, h('strong', {}, `Transfer to ${to}: `),
        t.assignee ? `waiting for ${agentName(t.assignee)} to accept.` : `waiting until ${t.target.service ? 'an agent of the service' : to} can take it.`),
      t.expires_at && countdown(`transfer:${t.id}`, t.expires_at, 'Accept within'),
      h('p', { class: 'muted' }, 'You keep working with the customer meanwhile.'),
      h('div', { class: 'buttons' },
        button('Cancel transfer', () => act('POST', `/transfers/${t.id}/cancel`), { dataset: { key: `tcancel:${t.id}` } })));
  }
  const f = st.failed.get(id);
  if (!f) return null;
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
    tab.querySelector('.count').textContent = st.lists[folder].length ? `(${st.lists[folder].length})` : '';
  }
  $('list').setAttribute('aria-labelledby', `tab-${st.folder}`);
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
        i.status === 'wrap_up' && i.wrap_up_ends_at && countdown(`wrap:${i.id}`, i.wrap_up_ends_at, 'Wrap-up'),
        i.held && h('span', { class: 'state' }, 'On hold'),
        h('span', { class: 'muted' }, serviceName(i.service)))),
      resumable && button('Resume', () => act('POST', `/interactions/${i.id}/resume`),
        { class: 'quick', 'aria-label': `Resume ${subjectOf(i)}`, dataset: { key: `resume:${i.id}` } }));
  });
  if (!rows.length) {
    const empty = st.status ? `Nothing is ${STATUS[st.status].toLowerCase()}.`
      : { ongoing: 'Nothing ongoing. Go Available now to receive work.', deferred: 'Nothing deferred.', history: 'No history yet.' }[st.folder];
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

function select(id) {
  st.selected = id;
  st.detail = find(id);
  render();
  refresh();
}

function renderDetail() {
  const el = $('detail');
  const i = st.selected ? st.detail : null;
  if (!i) {
    replace(el, h('p', { class: 'empty' }, st.loaded && !all().length ? 'Your interactions show here.' : 'Select an interaction to see its actions and audit trail.'));
    return;
  }
  const why = h('p', { class: 'why', id: 'why', 'aria-live': 'polite' });
  const actions = (i.actions || []).map((a) => {
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
    recordLine(i),
    i.status === 'offered' && i.offer_expires_at && h('div', { class: 'timer' }, countdown(`offer:${i.id}`, i.offer_expires_at, 'Answer within'),
      h('div', { class: 'buttons' },
        button('Accept', () => act('POST', `/interactions/${i.id}/accept`), { class: 'primary', dataset: { key: `daccept:${i.id}` } }),
        button('Decline', () => openDecline('offer', i), { dataset: { key: `ddecline:${i.id}` } }))),
    i.status === 'wrap_up' && h('div', { class: 'timer wrapup' },
      i.wrap_up_ends_at ? countdown(`wrap:${i.id}`, i.wrap_up_ends_at, 'Wrap-up ends in') : h('span', {}, 'Wrap-up'),
      h('div', { class: 'buttons' },
        button('Extend', () => act('POST', `/interactions/${i.id}/wrapup/extend`), { dataset: { key: `extend:${i.id}` } }),
        button('Finish now', () => act('POST', `/interactions/${i.id}/wrapup/finish`), { class: 'primary', dataset: { key: `finish:${i.id}` } }))),
    i.status === 'deferred' && i.due_by && h('p', { class: 'timer' },
      `Comes back ${when(i.due_by)}`, i.due_by_was_set_manually ? ' (set by an agent)' : ' (set by a rule)'),
    i.auto_opened_due_to_due_date && i.status === 'connected' && h('p', { class: 'info' }, 'Reopened by itself at its due date.'),
    i.resumed_from && h('p', { class: 'muted' }, `Resumed from ${i.resumed_from}.`),
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
        h('div', {}, e.message, e.actor && e.actor !== 'system' ? h('span', { class: 'muted' }, ` — ${agentName(e.actor)}`) : null))))));
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
  return config.openCTIURL && window.self !== window.top;
}

function loadOpenCTI() {
  if (!inSalesforce()) return null;
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

// popNewlyConnected pops the record of work that just connected to this
// agent, inside Salesforce only (elsewhere a new tab would be a pop-up).
function popNewlyConnected() {
  const now = new Map(st.lists.ongoing.map((i) => [i.id, i.status]));
  if (st.seen && inSalesforce()) {
    for (const i of st.lists.ongoing) {
      if (i.status === 'connected' && st.seen.get(i.id) !== 'connected') screenPop(i);
    }
  }
  st.seen = now;
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
  d.addEventListener('close', () => returnFocus(d));
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
  input.min = localValue(new Date(serverNow()));
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
    ev.preventDefault();
    const q = ev.target.value.trim();
    if (route.mode === 'consult' && isNumber(q) && !n) startRoute();
    else if (route.choice && route.matches[route.active] === route.choice) startRoute();
    else { choose(false); chosenByKey = !!route.choice; }
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
  const ok = await act('POST', `/interactions/${i.id}/transfers`,
    { target, mode: cold ? 'cold' : 'warm', note: $('route-note').value }, err);
  if (ok && cold) {
    $('dlg-route').close();
    toast(`Handed over to ${route.choice.name}.`, 'info');
  }
}

// A transfer that completes takes the interaction away: close its dialog.
function closeRouteIfGone() {
  const d = $('dlg-route');
  if (d.open && route.i && !st.lists.ongoing.some((i) => i.id === route.i.id)) {
    d.close();
    toast(`“${subjectOf(route.i)}” was handed over.`, 'info');
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
    const next = ev.key === 'ArrowRight' ? tabs[(k + 1) % tabs.length] : ev.key === 'ArrowLeft' ? tabs[(k + tabs.length - 1) % tabs.length] : null;
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

// ---- start ----------------------------------------------------------------

setInterval(tick, 250);
takeTokenFromURL();
const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) signIn(saved);
else resumeSession().then((me) => (me ? enterSession(me) : showSignIn('')));
loadOpenCTI();
