// The register page's enhancements: the resend countdown, and unit
// suggestions while typing (GET /api/v1/orgs/search). Without this file
// the 查找 button lists the matches, and the page works the same.
(function () {
  var q = document.getElementById("org_q");
  var list = document.getElementById("org-list");
  var chosen = document.getElementById("org-chosen");
  var form = document.getElementById("register");
  if (!q || !list || !chosen || !form) return;
  var hidden = document.getElementById("org_id");
  if (!hidden) {
    hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = "org_id";
    hidden.id = "org_id";
    form.appendChild(hidden);
  }
  var timer = null, seq = 0;
  function clear() { while (list.firstChild) list.removeChild(list.firstChild); }
  function pick(u) {
    hidden.value = u.id;
    chosen.hidden = false;
    chosen.querySelector("strong").textContent = u.name;
    chosen.querySelector(".code").textContent = u.id;
    q.value = "";
    clear();
  }
  function show(units) {
    clear();
    units.forEach(function (u) {
      var li = document.createElement("li");
      var b = document.createElement("button");
      b.type = "button";
      b.className = "pick";
      b.setAttribute("data-id", u.id);
      var n = document.createElement("span"); n.className = "name"; n.textContent = u.name;
      var c = document.createElement("span"); c.className = "code"; c.textContent = " " + u.id;
      b.appendChild(n); b.appendChild(c);
      if (u.parent) { var p = document.createElement("span"); p.className = "parent"; p.textContent = u.parent; b.appendChild(p); }
      b.addEventListener("click", function () { pick(u); });
      li.appendChild(b);
      list.appendChild(li);
    });
  }
  q.addEventListener("input", function () {
    clearTimeout(timer);
    var text = q.value.trim();
    if (text.length < 2) { clear(); return; }
    timer = setTimeout(function () {
      var mine = ++seq;
      fetch("/api/v1/orgs/search?q=" + encodeURIComponent(text), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { units: [] }; })
        .then(function (body) { if (mine === seq) show(body.units || []); })
        .catch(function () {});
    }, 250);
  });
})();
// Counts down the wait on "重新获取验证码" buttons. The server renders the
// button disabled with the seconds left (data-wait); this only ticks it
// down and enables it at zero, so the page works without it.
(function () {
  var buttons = document.querySelectorAll("button[data-wait]");
  Array.prototype.forEach.call(buttons, function (b) {
    var left = parseInt(b.getAttribute("data-wait"), 10) || 0;
    var label = b.getAttribute("data-label") || "重新获取验证码";
    function tick() {
      if (left <= 0) {
        b.disabled = false;
        b.textContent = label;
        return;
      }
      b.textContent = label + "（" + left + " 秒）";
      left--;
      setTimeout(tick, 1000);
    }
    tick();
  });
})();
