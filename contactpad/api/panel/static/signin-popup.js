// The sign-in popup's last page: it hands the ticket to the panel that
// opened it (same origin only) and closes. Without that panel it says so.
const main = document.getElementById('signin-result');
const ticket = main && main.dataset.ticket;
if (ticket && window.opener && !window.opener.closed) {
  window.opener.postMessage({ type: 'ctibridge.signin', ticket }, location.origin);
  window.close();
} else if (ticket) {
  const status = document.querySelector('[role=status]');
  if (status) status.textContent = 'The panel that opened this window is gone. Close this window and sign in again from the panel.';
}
