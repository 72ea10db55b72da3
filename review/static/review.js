// Keyboard triage for the Nigehbaan review app. Served as a static file because the
// Content-Security-Policy allows no inline script. Elements that a key acts on carry
// data-key="x"; on the queue, j/k move a selection through the rows.
(function () {
  "use strict";
  var KEYS = "cdejkunp"; // keys that may click an element marked data-key

  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  function keyed(k) {
    return document.querySelector('[data-key="' + k + '"]');
  }

  function toggleHelp(show) {
    var help = document.getElementById("help");
    if (help) help.hidden = show === undefined ? !help.hidden : !show;
  }

  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-href]"));
  var current = -1;

  function select(i) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r) { r.classList.remove("selected"); });
    rows[current].classList.add("selected");
    rows[current].scrollIntoView({ block: "nearest" });
  }

  rows.forEach(function (row, i) {
    row.addEventListener("click", function (ev) {
      if (ev.target.closest("a")) return;
      select(i);
      window.location.href = row.dataset.href;
    });
  });
  if (rows.length) select(0);

  // One decision per page: a second key press before the next page loads would only
  // produce a conflict with our own first decision.
  var submitted = false;
  var form = document.getElementById("decision");
  if (form) form.addEventListener("submit", function () { submitted = true; });

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var k = ev.key;
    if (k === "Escape") {
      if (typing(document.activeElement)) document.activeElement.blur();
      toggleHelp(false);
      return;
    }
    if (typing(ev.target) || submitted) return;
    if (k === "?") {
      toggleHelp();
    } else if (rows.length && (k === "j" || k === "ArrowDown")) {
      select(current + 1);
    } else if (rows.length && (k === "k" || k === "ArrowUp")) {
      select(current - 1);
    } else if (rows.length && (k === "Enter" || k === "o")) {
      window.location.href = rows[current].dataset.href;
    } else if (k === "/" && document.getElementById("q")) {
      document.getElementById("q").focus();
    } else if (k.length === 1 && KEYS.indexOf(k) >= 0 && keyed(k)) {
      keyed(k).click();
    } else {
      return;
    }
    ev.preventDefault();
  });
})();
