// The console works without this file; it only enhances: live countdowns, the live report, the browser's
// time zone on the sign-in form. No framework, nothing fetched from elsewhere.
"use strict";
(function () {
  function fmt(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    if (h) return h + "h " + m + "m " + s + "s";
    return m ? m + "m " + s + "s" : s + ".0s";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-deadline]").forEach(function (el) {
      var left = (Date.parse(el.getAttribute("data-deadline")) - now) / 1000;
      el.textContent = left > 0 ? fmt(left) + " left" : "overdue";
      el.classList.toggle("urgent", left < 120);
    });
  }
  function live() {
    var box = document.getElementById("live-report");
    if (!box) return;
    var src = box.getAttribute("data-live");
    function poll() {
      if (!box.querySelector("[data-running]")) return;  // finished: stop asking
      fetch(src, {credentials: "same-origin", headers: {"Accept": "text/html"}})
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
        .then(function (html) { box.innerHTML = html; tick(); })
        .catch(function () { /* keep the last view; try again */ })
        .finally(function () { setTimeout(poll, 2000); });
    }
    setTimeout(poll, 2000);
  }
  document.addEventListener("DOMContentLoaded", function () {
    var tz = document.querySelector("input[data-timezone]");
    if (tz && window.Intl) tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    tick();
    setInterval(tick, 1000);
    live();
  });
})();
