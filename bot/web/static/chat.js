// The web chat: send what the official types; replies arrive on the page's event stream
// (server-sent events), with a slow plain poll as the fallback when the stream is down.
(function () {
  var box = document.getElementById("messages"), form = document.getElementById("send-form");
  var status = document.getElementById("live-status");
  var csrf = form.querySelector("[name=csrf]").value, last = 0, busy = false, seen = {};
  var stream = null, streamOpen = false;
  var FALLBACK_MS = 10000, DOWN_MS = 2000;  // poll slowly while the stream is up, faster while it is down
  function add(m) {
    if (seen[m.id]) return;
    seen[m.id] = true; last = Math.max(last, m.id);
    var div = document.createElement("div"); div.className = "msg " + m.from; div.dataset.id = m.id;
    var t = document.createElement("div"); t.className = "text"; t.textContent = m.text; div.appendChild(t);
    m.photos.forEach(function (p) { var img = document.createElement("img"); img.src = p; img.alt = "ảnh"; div.appendChild(img); });
    m.choices.forEach(function (c) {
      var b = document.createElement("button"); b.type = "button"; b.className = "choice";
      b.dataset.action = c.action; b.textContent = c.label;
      b.addEventListener("click", function () { send({action: c.action, label: c.label}); });
      div.appendChild(b);
    });
    box.appendChild(div); window.scrollTo(0, document.body.scrollHeight);
  }
  function poll() {
    if (busy) return; busy = true;
    fetch("/chat/api/messages?after=" + last, {credentials: "same-origin"}).then(function (r) { return r.json(); })
      .then(function (d) { d.messages.forEach(add); })
      .catch(function () {}).finally(function () { busy = false; });
  }
  function showStatus(up) {
    streamOpen = up;
    if (!status) return;
    status.hidden = up; status.textContent = up ? "" : status.dataset.offline;
  }
  function listen() {
    if (!window.EventSource) { setInterval(poll, DOWN_MS); return; }
    function connect() {
      stream = new EventSource("/chat/api/events?after=" + last);
      stream.addEventListener("message", function (ev) { add(JSON.parse(ev.data)); });
      stream.onopen = function () { showStatus(true); };
      stream.onerror = function () {  // EventSource reconnects by itself, except after a refusal (e.g. 429)
        showStatus(false);
        if (stream.readyState === EventSource.CLOSED) setTimeout(connect, 5000);
      };
    }
    connect();
    window.addEventListener("pagehide", function () { if (stream) stream.close(); });
    setInterval(function () { if (!streamOpen) poll(); }, DOWN_MS);
    setInterval(poll, FALLBACK_MS);
  }
  function send(fields, file) {
    var data = new FormData(); data.append("csrf", csrf);
    data.append("nonce", Date.now() + "-" + Math.random());
    Object.keys(fields).forEach(function (k) { data.append(k, fields[k]); });
    if (file) data.append("photo", file);
    return fetch("/chat/api/send", {method: "POST", body: data, credentials: "same-origin",
      headers: {"X-CSRF-Token": csrf}}).then(function (r) { return r.json(); })
      .then(function (d) { if (d.error) alert(d.error); if (!streamOpen) poll(); return d; });
  }
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = form.querySelector("#text"), photo = form.querySelector("#photo");
    var file = photo.files.length ? photo.files[0] : null;
    if (!text.value && !file) return;
    // A refused message (e.g. "try again") keeps what was typed in the box.
    send({text: text.value}, file).then(function (d) { if (!d.error) { text.value = ""; photo.value = ""; } });
  });
  document.querySelectorAll(".quick-send").forEach(function (b) {
    b.addEventListener("click", function () {
      send(b.dataset.action ? {action: b.dataset.action, label: b.dataset.label} : {text: b.dataset.text});
    });
  });
  // What the chat holds already, then live.
  fetch("/chat/api/messages?after=0", {credentials: "same-origin"}).then(function (r) { return r.json(); })
    .then(function (d) { d.messages.forEach(add); }).catch(function () {}).finally(listen);
})();
