// The inbox's live behaviour (progressive enhancement: every form also works without it).
// - live updates: an EventSource on /api/v1/events/stream (the browser resumes with
//   Last-Event-ID after a drop, so nothing is missed) refreshes the list and the open
//   conversation;
// - keyboard: j/k move between conversations, e resolves, u marks unread, / searches,
//   Ctrl+Enter sends the reply (or the note);
// - the composer: canned responses filled in for this conversation, template parameters.
(function () {
  "use strict";
  var main = document.getElementById("main");
  if (!main || !main.classList.contains("inbox")) return;
  // htmx "settles" the style attribute of swapped elements by writing it back, which the
  // strict CSP (no inline style) refuses; label colours are set through the CSSOM instead.
  htmx.config.attributesToSettle = ["class", "width", "height"];

  function openConversation() {
    var grid = document.querySelector("#pane .pane-grid");
    return grid ? grid.getAttribute("data-conversation") : null;
  }

  function filterQuery() {
    var form = document.getElementById("filters");
    return new URLSearchParams(new FormData(form)).toString();
  }

  function paintLabels(root) {
    (root || document).querySelectorAll("[data-colour]").forEach(function (el) {
      var c = el.getAttribute("data-colour");
      if (!/^#[0-9a-fA-F]{6}$/.test(c)) return;
      el.style.backgroundColor = c;
      var r = parseInt(c.substr(1, 2), 16), g = parseInt(c.substr(3, 2), 16), b = parseInt(c.substr(5, 2), 16);
      el.style.color = (r * 299 + g * 587 + b * 114) / 1000 > 140 ? "#111" : "#fff";
    });
  }

  function markSelected() {
    var id = openConversation();
    document.querySelectorAll("#conversation-list .conversation").forEach(function (li) {
      li.classList.toggle("selected", li.getAttribute("data-id") === id);
    });
  }

  function refreshList() {
    var checked = Array.prototype.map.call(
      document.querySelectorAll('#conversation-list input[name="c"]:checked'),
      function (i) { return i.value; });
    htmx.ajax("GET", "/inbox/list?" + filterQuery(), { target: "#conversation-list", swap: "innerHTML" })
      .then(function () {
        checked.forEach(function (id) {
          var box = document.querySelector('#conversation-list input[name="c"][value="' + id + '"]');
          if (box) box.checked = true;
        });
        markSelected();
      });
  }

  // What the events since the last refresh touched in the open conversation: its timeline
  // (messages, delivery marks, notes and system events), or the whole pane (status,
  // assignee, labels). A read mark alone only changes the list.
  var listTimer = null;
  var touched = {};
  function scheduleRefresh(data, kind) {
    var id = data.conversation_id;
    if (id) {
      var t = touched[id] || (touched[id] = { timeline: false, pane: false });
      var payload = data.payload || {};
      if (kind === "conversation.updated") {
        if (!("unread_count" in payload)) t.pane = true;
      } else {
        t.timeline = true;
      }
    }
    clearTimeout(listTimer);
    listTimer = setTimeout(function () {
      var open = openConversation();
      var hit = open ? touched[open] : null;
      touched = {};
      refreshList();
      if (!hit) return;
      // Live updates never replace the composer or the note box (someone may be typing):
      // the timeline, the header and, unless it is in use, the details are swapped alone.
      if (hit.pane || hit.timeline) htmx.trigger("#timeline", "refresh");
      if (hit.pane) {
        var url = "/inbox/conversations/" + open;
        htmx.ajax("GET", url, { target: "#pane .thread-head", select: ".thread-head", swap: "outerHTML" });
        var details = document.querySelector("#pane .details");
        if (details && !details.contains(document.activeElement)) {
          htmx.ajax("GET", url, { target: "#pane .details", select: ".details", swap: "outerHTML" });
        }
      }
    }, 150);
  }

  // Live updates.
  if (window.EventSource) {
    var after = main.getAttribute("data-events-after") || "0";
    var source = new EventSource("/api/v1/events/stream?after=" + encodeURIComponent(after));
    var kinds = ["message.created", "message.updated", "conversation.updated", "activity.created", "label.changed"];
    kinds.forEach(function (kind) {
      source.addEventListener(kind, function (e) {
        var data = {};
        try { data = JSON.parse(e.data); } catch (err) { return; }
        main.setAttribute("data-events-seen", e.lastEventId);
        scheduleRefresh(data, kind);
      });
    });
    source.onopen = function () { document.body.setAttribute("data-live", "open"); };
    source.onerror = function () { document.body.setAttribute("data-live", "reconnecting"); };
  }

  // Keyboard shortcuts.
  function move(step) {
    var links = Array.prototype.slice.call(document.querySelectorAll("#conversation-list a.open-conversation"));
    if (!links.length) return;
    var open = openConversation();
    var index = links.findIndex(function (a) { return a.closest(".conversation").getAttribute("data-id") === open; });
    var next = links[Math.min(links.length - 1, Math.max(0, index + step))];
    if (index === -1) next = links[0];
    next.click();
    next.focus();
  }
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    var typing = t && (t.tagName === "TEXTAREA" || t.tagName === "INPUT" || t.tagName === "SELECT" || t.isContentEditable);
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && t && t.tagName === "TEXTAREA" && t.form) {
      e.preventDefault();
      t.form.requestSubmit();
      return;
    }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "j") { e.preventDefault(); move(1); }
    else if (e.key === "k") { e.preventDefault(); move(-1); }
    else if (e.key === "e") { var r = document.getElementById("resolve"); if (r) { e.preventDefault(); r.click(); } }
    else if (e.key === "u") { var u = document.getElementById("mark-unread"); if (u) { e.preventDefault(); u.click(); } }
    else if (e.key === "/") { e.preventDefault(); document.getElementById("search-q").focus(); }
  });

  // The composer's helpers.
  function showTemplateParams() {
    var pick = document.getElementById("template-pick");
    if (!pick) return;
    var option = pick.options[pick.selectedIndex];
    var count = option ? parseInt(option.getAttribute("data-params") || "0", 10) : 0;
    document.querySelectorAll(".template-param").forEach(function (p) {
      var shown = parseInt(p.getAttribute("data-index"), 10) <= count;
      p.hidden = !shown;
      p.querySelector("input").required = shown;
    });
    var body = document.getElementById("template-body");
    if (body) body.textContent = option ? option.getAttribute("data-body") : "";
  }
  document.addEventListener("change", function (e) {
    if (e.target.id === "template-pick") showTemplateParams();
    if (e.target.closest && e.target.closest("#filters")) {
      document.getElementById("filters-hidden").value = filterQuery();
    }
    if (e.target.id === "attach-file" && e.target.files && e.target.files[0]) {
      sendFile(e.target);
    }
    if (e.target.id === "canned-pick" && e.target.value) {
      var pick = e.target;
      var url = "/api/v1/canned-responses/" + encodeURIComponent(pick.value) +
        "/rendered?conversation_id=" + encodeURIComponent(pick.getAttribute("data-conversation"));
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (body) {
          var box = document.getElementById("reply-text");
          var at = box.selectionStart || box.value.length;
          box.value = box.value.slice(0, at) + body.text + box.value.slice(at);
          box.focus();
          pick.value = "";
        });
    }
  });

  // A file reply: the file is the request's body (the server checks its type and size for the
  // channel); the timeline refreshes itself when the message is stored.
  function sendFile(input) {
    var file = input.files[0];
    var note = document.getElementById("attach-status");
    var caption = document.getElementById("reply-text");
    var query = "?filename=" + encodeURIComponent(file.name);
    if (caption && caption.value.trim()) query += "&caption=" + encodeURIComponent(caption.value.trim());
    note.textContent = "Sending " + file.name + "\u2026";
    fetch("/inbox/conversations/" + encodeURIComponent(input.getAttribute("data-conversation")) +
      "/attachment" + query, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": file.type || "application/octet-stream",
        "X-CSRF-Token": input.getAttribute("data-csrf") },
      body: file,
    }).then(function (r) {
      if (r.ok) {
        note.textContent = file.name + " sent.";
        if (caption) caption.value = "";
        input.value = "";
        var timeline = document.getElementById("timeline");
        if (timeline && window.htmx) window.htmx.trigger(timeline, "refresh");
        return;
      }
      return r.json().then(function (b) {
        note.textContent = (b && b.error && b.error.message) || "The file could not be sent.";
      });
    }, function () {
      note.textContent = "The file could not be sent; check the connection and try again.";
    });
  }

  document.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("a.open-conversation");
    if (!link) return;
    document.querySelectorAll("#conversation-list .conversation").forEach(function (li) { li.classList.remove("selected"); });
    link.closest(".conversation").classList.add("selected");
    var count = link.querySelector(".unread-count");
    if (count) count.remove();
    link.closest(".conversation").classList.remove("unread");
  });

  document.body.addEventListener("htmx:afterSwap", function (e) {
    paintLabels(e.detail.target);
    showTemplateParams();
    markSelected();
    var timeline = document.getElementById("timeline");
    if (timeline) timeline.scrollTop = timeline.scrollHeight;
  });

  paintLabels(document);
  showTemplateParams();
  var timeline = document.getElementById("timeline");
  if (timeline) timeline.scrollTop = timeline.scrollHeight;
})();
