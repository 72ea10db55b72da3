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

  // Marking a passage for a missed indicator. Offsets are code points into the ad text as
  // imported (what Python's text[start:end] counts): each text node counts its characters,
  // and a visible bidi marker ([U+202E]) stands for the one control character it replaced.
  var adText = document.getElementById("ad-text");
  var picked = null;

  function codePoints(s) { return Array.from(s).length; }

  function originalOf(node) {
    var ctl = node.parentNode && node.parentNode.closest ? node.parentNode.closest(".ctl") : null;
    if (ctl) {
      var m = /U\+([0-9A-F]{4,6})/.exec(ctl.textContent);
      return { ctl: ctl, text: m ? String.fromCodePoint(parseInt(m[1], 16)) : "" };
    }
    return { ctl: null, text: node.data };
  }

  function selectionSpan() {
    var sel = window.getSelection();
    if (!adText || !sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
    var range = sel.getRangeAt(0);
    if (!adText.contains(range.startContainer) || !adText.contains(range.endContainer)) return null;
    // Measure the text before each end of the range.
    var pre = document.createRange();
    pre.selectNodeContents(adText);
    pre.setEnd(range.startContainer, range.startOffset);
    var start = measure(pre);
    pre.setEnd(range.endContainer, range.endOffset);
    var end = measure(pre);
    var whole = measure(null, true);
    if (end <= start) return null;
    return { start: start, end: end, text: Array.from(whole).slice(start, end).join("") };
  }

  // Code points of the original text covered by a range from the start of #ad-text
  // (or, with all, the whole original text as a string).
  function measure(range, all) {
    var walker = document.createTreeWalker(adText, NodeFilter.SHOW_TEXT);
    var n = 0, out = "", seenCtl = null, node;
    while ((node = walker.nextNode())) {
      var o = originalOf(node);
      if (o.ctl && o.ctl === seenCtl) continue;
      seenCtl = o.ctl;
      if (all) { out += o.text; continue; }
      if (range.endContainer === node) {
        if (!o.ctl) n += codePoints(node.data.slice(0, range.endOffset));
        else if (range.endOffset > 0) n += 1;
        return n;
      }
      if (!range.intersectsNode(node)) return n;
      n += codePoints(o.text);
    }
    return all ? out : n;
  }

  if (adText) {
    document.addEventListener("selectionchange", function () {
      var span = selectionSpan();
      if (span) picked = span;
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("button.mark"), function (btn) {
    btn.addEventListener("click", function () {
      var msg = document.getElementById("mark-msg");
      var span = selectionSpan() || picked;
      if (!span) { if (msg) msg.hidden = false; return; }
      if (msg) msg.hidden = true;
      var ind = btn.dataset.mark;
      var box = btn.parentNode.querySelector('input[name="add"]');
      if (box) box.checked = true;
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = "span";
      input.value = JSON.stringify({ indicator: ind, start: span.start, end: span.end, text: span.text });
      form.appendChild(input);
      var li = document.createElement("li");
      li.textContent = btn.parentNode.textContent.replace("mark", "").trim() + ": \u201c" + span.text + "\u201d (" + span.start + "\u2013" + span.end + ")";
      li.setAttribute("dir", "auto");
      document.getElementById("marked").appendChild(li);
      picked = null;
      window.getSelection().removeAllRanges();
    });
  });

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
