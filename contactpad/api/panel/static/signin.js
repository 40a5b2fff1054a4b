// Sign in with Salesforce, for the agent panel (panel.js).
//
// The panel signs in with the agent's Salesforce user when the bridge has
// panel.signin configured: the session lives in an HttpOnly cookie the
// page never sees, and every state change carries the session's CSRF
// token. Salesforce's login page cannot be framed, so inside the console
// (the panel in an iframe) sign-in runs in a popup, which hands a one-use
// ticket back by postMessage; the panel trades it for the cookie with a
// same-origin POST, so the cookie belongs to the frame's own context. In a
// tab of its own the page goes to Salesforce and comes back signed in.

const SIGNIN = 'api/v1/signin/salesforce';
const TICKET = 'api/v1/signin/ticket';
const SIGNOUT = 'api/v1/signout';

// SESSION stands for the token while the panel is signed in by cookie, so
// the panel's "signed in?" checks hold either way.
export const SESSION = '(salesforce session)';

// session is the cookie session the panel uses, if any.
export const session = { active: false, csrf: '' };

// signInEnabled: the bridge offers Sign in with Salesforce.
export const signInEnabled = document.body.dataset.signin === 'salesforce';

// authHeaders are the headers that authenticate a request: the bearer
// token, or the session's CSRF token (the cookie goes by itself).
export function authHeaders(token) {
  if (session.active || token === SESSION) return { 'X-CSRF-Token': session.csrf };
  return { Authorization: `Bearer ${token}` };
}

// resumeSession asks whether the browser holds a live session (the cookie
// of an earlier sign-in, or of the tab flow that just came back). It
// returns the agent's /me, or null. It throws when ctibridge cannot tell
// now (unreachable, or its database is out: a 5xx), which says nothing
// of the session: the caller asks again later.
export async function resumeSession() {
  if (!signInEnabled) return null;
  let res;
  try {
    res = await fetch('api/v1/me', { credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new Error('ctibridge cannot be reached.');
  }
  if (res.status >= 500) throw new Error(`ctibridge answered ${res.status}.`);
  if (!res.ok) return null;
  const me = await res.json().catch(() => null);
  if (!me || !me.session) return null;
  session.active = true;
  session.csrf = me.csrf_token || '';
  return me;
}

// signInWithSalesforce signs in: in a popup when the panel is framed (it
// resolves once the session cookie is set), otherwise by leaving for
// Salesforce in this tab (it never resolves; the page comes back).
export function signInWithSalesforce() {
  if (window.top === window.self) {
    location.assign(`${SIGNIN}?mode=tab`);
    return new Promise(() => {});
  }
  return new Promise((resolve, reject) => {
    let done = false;
    const popup = window.open(`${SIGNIN}?mode=popup`, 'ctibridge-signin', 'popup,width=480,height=640');
    if (!popup) {
      reject(new Error('The sign-in window was blocked: allow pop-ups for this page and try again.'));
      return;
    }
    const onMessage = async (ev) => {
      if (ev.origin !== location.origin || ev.source !== popup || !ev.data || ev.data.type !== 'ctibridge.signin') return;
      done = true;
      window.removeEventListener('message', onMessage);
      clearInterval(watch);
      try {
        resolve(await tradeTicket(ev.data.ticket));
      } catch (err) {
        reject(err);
      }
    };
    // A popup closed before it signed in ends the attempt quietly; its
    // last message, if it sent one, is given a moment to arrive.
    const watch = setInterval(() => {
      if (!popup.closed) return;
      clearInterval(watch);
      setTimeout(() => {
        if (done) return;
        window.removeEventListener('message', onMessage);
        reject(new Error(''));
      }, 1000);
    }, 500);
    window.addEventListener('message', onMessage);
  });
}

// tradeTicket trades the popup's ticket for the session cookie.
async function tradeTicket(ticket) {
  const res = await fetch(TICKET, {
    method: 'POST', credentials: 'same-origin', cache: 'no-store',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ ticket }),
  });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new Error((data && data.detail) || `Sign-in failed (${res.status}).`);
  session.active = true;
  session.csrf = data.csrf_token;
  return data;
}

// endSession signs the session out on the server (for every replica) and
// forgets it here. It never throws: the panel shows the sign-in screen
// whatever the answer.
export async function endSession() {
  if (!session.active) return;
  const csrf = session.csrf;
  session.active = false;
  session.csrf = '';
  try {
    await fetch(SIGNOUT, { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf } });
  } catch {
    // The cookie expires by itself; nothing more to do.
  }
}
