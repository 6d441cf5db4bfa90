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
