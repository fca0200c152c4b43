// The technicians' console, live: the queue and the open ticket follow the server's event
// stream (/console/api/events) and reload the part that changed. A new ticket adds to a count
// in the tab's title (and beeps, if the technician ticked the box); looking at the page clears it.
(function () {
  // Canned replies: picking one fills the reply box (which the technician can still edit).
  var canned = document.getElementById("canned"), reply = document.getElementById("reply-text");
  if (canned && reply) {
    canned.addEventListener("change", function () {
      var opt = canned.options[canned.selectedIndex];
      if (opt && opt.dataset.text) { reply.value = opt.dataset.text; reply.focus(); }
    });
  }
  var body = document.body, url = body.dataset.live;
  if (!url || !window.EventSource) return;
  var state = document.getElementById("live-state"), sound = document.getElementById("sound");
  var title = document.title, fresh = 0, timer = null, stream, opened = false;
  function show(up) {
    if (!state) return;
    state.textContent = up ? state.dataset.on : state.dataset.off;
    state.className = "live-state " + (up ? "up" : "down");
  }
  function badge() { document.title = fresh ? "(" + fresh + ") " + title : title; }
  function seen() { if (fresh) { fresh = 0; badge(); } }
  function beep() {
    if (!sound || !sound.checked) return;
    try {
      var ctx = new (window.AudioContext || window.webkitAudioContext)(), osc = ctx.createOscillator();
      osc.frequency.value = 880; osc.connect(ctx.destination); osc.start(); osc.stop(ctx.currentTime + 0.2);
    } catch (e) { /* no audio here: the title count still says it */ }
  }
  if (sound) {
    sound.checked = localStorage.getItem("desk-sound") === "1";
    sound.addEventListener("change", function () { localStorage.setItem("desk-sound", sound.checked ? "1" : "0"); });
  }
  function fetchPart(part) {
    var u = new URL(location.href); u.searchParams.set("part", part);
    return fetch(u, {credentials: "same-origin"}).then(function (r) { if (!r.ok) throw r; return r.text(); });
  }
  function reloadQueue() {
    var before = {};
    document.querySelectorAll("#queue tr.ticket").forEach(function (tr) { before[tr.dataset.id] = true; });
    fetchPart("rows").then(function (html) {
      document.getElementById("queue-wrap").innerHTML = html;
      document.querySelectorAll("#queue tr.ticket").forEach(function (tr) {
        if (!before[tr.dataset.id]) tr.classList.add("arrived");
      });
    }).catch(function () {});
  }
  function reloadTicket() {
    fetchPart("live").then(function (html) {
      var t = document.createElement("template"); t.innerHTML = html;
      ["card", "events"].forEach(function (id) {  // the forms keep what the technician is typing
        var part = t.content.getElementById(id), here = document.getElementById(id);
        if (part && here) here.replaceWith(part);
      });
    }).catch(function () {});
  }
  var reload = body.dataset.page === "queue" ? reloadQueue : reloadTicket;
  function soon() { clearTimeout(timer); timer = setTimeout(reload, 150); }  // many events: one reload
  function connect() {
    stream = new EventSource(url);
    // Reconnected: whatever changed while no stream was open is fetched once.
    stream.onopen = function () { show(true); if (opened) soon(); opened = true; };
    stream.onerror = function () {  // EventSource retries by itself, except after a refusal (e.g. 429)
      show(false);
      if (stream.readyState === EventSource.CLOSED) setTimeout(connect, 5000);
    };
    stream.addEventListener("reload", soon);
    stream.addEventListener("ticket", function (ev) {
      var d = JSON.parse(ev.data);
      if (body.dataset.page === "queue") {
        if (d.kind === "created") { fresh += 1; badge(); beep(); }
        soon();
      } else if (String(d.ticket) === body.dataset.ticket) {
        soon();
      }
    });
  }
  connect();
  // Leaving the page: close the stream now, or the browser may keep it (and its place) open for a while.
  window.addEventListener("pagehide", function () { if (stream) stream.close(); });
  window.addEventListener("focus", seen);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) seen(); });
  document.addEventListener("click", seen);
})();
