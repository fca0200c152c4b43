// The web chat: send what the official types, show the bot's replies (polled).
(function () {
  var box = document.getElementById("messages"), form = document.getElementById("send-form");
  var csrf = form.querySelector("[name=csrf]").value, last = 0, busy = false;
  function add(m) {
    var div = document.createElement("div"); div.className = "msg " + m.from;
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
      .then(function (d) { d.messages.forEach(function (m) { last = Math.max(last, m.id); add(m); }); })
      .finally(function () { busy = false; });
  }
  function send(fields, file) {
    var data = new FormData(); data.append("csrf", csrf);
    data.append("nonce", Date.now() + "-" + Math.random());
    Object.keys(fields).forEach(function (k) { data.append(k, fields[k]); });
    if (file) data.append("photo", file);
    return fetch("/chat/api/send", {method: "POST", body: data, credentials: "same-origin",
      headers: {"X-CSRF-Token": csrf}}).then(function (r) { return r.json(); })
      .then(function (d) { if (d.error) alert(d.error); poll(); return d; });
  }
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = form.querySelector("#text"), photo = form.querySelector("#photo");
    var file = photo.files.length ? photo.files[0] : null;
    if (!text.value && !file) return;
    // A refused message (e.g. "try again") keeps what was typed in the box.
    send({text: text.value}, file).then(function (d) { if (!d.error) { text.value = ""; photo.value = ""; } });
  });
  poll(); setInterval(poll, 1000);
})();
