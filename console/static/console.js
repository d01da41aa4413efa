// spgate console: progressive enhancement only. Every page works without
// this file; with it, copy buttons copy, confirmations ask, and running
// jobs (a rotation, the AWS setup) update in place.
(function () {
  "use strict";

  function copyText(text, button) {
    var done = function () {
      button.classList.add("done");
      button.setAttribute("data-copied", "1");
      button.setAttribute("aria-label", "Copied");
      setTimeout(function () { button.classList.remove("done"); button.removeAttribute("aria-label"); }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      // A browser may leave the promise pending (no focus, a permission
      // prompt): copy the old way if it has not settled within a second.
      var settled = false;
      var settle = function (ok) {
        if (settled) { return; }
        settled = true;
        if (!ok) { fallback(text); }
        done();
      };
      navigator.clipboard.writeText(text).then(function () { settle(true); }, function () { settle(false); });
      setTimeout(function () { settle(false); }, 1000);
    } else {
      fallback(text);
      done();
    }
  }

  function fallback(text) {
    var t = document.createElement("textarea");
    t.value = text;
    t.setAttribute("readonly", "");
    t.className = "sr";
    document.body.appendChild(t);
    t.select();
    try { document.execCommand("copy"); } catch (e) { /* nothing more to try */ }
    document.body.removeChild(t);
  }

  document.addEventListener("click", function (ev) {
    var b = ev.target.closest("button.copy");
    if (!b) { return; }
    var text = b.getAttribute("data-copy-text");
    var sel = b.getAttribute("data-copy");
    if (sel) {
      var el = document.querySelector(sel);
      if (el) { text = el.value !== undefined && el.tagName === "INPUT" ? el.value : el.textContent; }
    }
    if (text) { copyText(text, b); }
  });

  document.addEventListener("submit", function (ev) {
    var b = ev.submitter || ev.target.querySelector("button[type=submit]");
    if (b && b.hasAttribute("data-confirm") && !window.confirm(b.getAttribute("data-confirm"))) {
      ev.preventDefault();
      return;
    }
    if (b && b.hasAttribute("data-busy")) {
      b.textContent = b.getAttribute("data-busy");
      setTimeout(function () { b.disabled = true; }, 0);
    }
  });

  // Select the one-time key for the person who copies by hand.
  var key = document.getElementById("newkey");
  if (key) { key.addEventListener("focus", function () { key.select(); }); }

  // The callback page goes on to the Sellers page by itself: a navigation
  // this page starts is same-site, so the session cookie comes along.
  var cont = document.getElementById("continue");
  if (cont && cont.getAttribute("data-auto") === "1") {
    setTimeout(function () { window.location.assign(cont.href); }, 1500);
  }

  // Running jobs: poll their state and redraw lines and steps.
  Array.prototype.forEach.call(document.querySelectorAll(".job[data-job]"), function (box) {
    if (box.getAttribute("data-done") === "true") { return; }
    var id = box.getAttribute("data-job");
    var poll = function () {
      fetch("/jobs/" + encodeURIComponent(id), { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (j) {
          var lines = box.querySelector(".job-lines");
          if (lines) {
            lines.textContent = j.lines.map(function (l) {
              return (j.kind === "rotate" ? new Date(l.time).toLocaleString() + "  " : "") + l.text;
            }).join("\n");
          }
          (j.steps || []).forEach(function (s) {
            var li = box.querySelector('.rstep[data-step="' + s.step + '"]');
            if (li) {
              li.className = "rstep " + s.state;
              var sub = li.querySelector(".sub");
              if (sub) { sub.textContent = "(" + s.state + ")"; }
            }
          });
          var st = box.querySelector(".job-status");
          if (j.done) {
            if (st) { st.textContent = j.title + ": " + (j.failed ? "failed: " + j.error : "finished."); }
            box.setAttribute("data-done", "true");
            // The page around the job (secret age, step states) changed too.
            setTimeout(function () { window.location.reload(); }, 800);
            return;
          }
          setTimeout(poll, 700);
        })
        .catch(function () { setTimeout(poll, 3000); });
    };
    setTimeout(poll, 500);
  });
}());
