// Polls the demo's own status endpoint every second while the session is not final, shows the
// status, and reloads once it is final so that the server renders the outcome.
(function () {
  'use strict';
  var main = document.querySelector('main[data-session-id]');
  if (!main || main.getAttribute('data-final') === 'true') return;
  var id = main.getAttribute('data-session-id');
  var status = document.getElementById('status');
  function tick() {
    fetch('/api/sessions/' + encodeURIComponent(id) + '/status', { cache: 'no-store' })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (s && typeof s.status === 'string') {
          status.textContent = s.status;
          status.className = 'status status-' + s.status;
          if (s.final) { window.location.reload(); return; }
        }
        setTimeout(tick, 1000);
      })
      .catch(function () { setTimeout(tick, 1000); });
  }
  setTimeout(tick, 1000);
})();
