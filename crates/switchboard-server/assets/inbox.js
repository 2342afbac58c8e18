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

  function composerBusy() {
    var pane = document.getElementById("pane");
    var active = document.activeElement;
    if (active && pane.contains(active) && (active.tagName === "TEXTAREA" || active.tagName === "INPUT" || active.tagName === "SELECT")) return true;
    return Array.prototype.some.call(pane.querySelectorAll("textarea"), function (t) { return t.value.trim() !== ""; });
  }

  var listTimer = null;
  var touched = {};
  function scheduleRefresh(conversation, kind) {
    if (conversation) touched[conversation] = (touched[conversation] || "") + " " + kind;
    clearTimeout(listTimer);
    listTimer = setTimeout(function () {
      var open = openConversation();
      var hit = open && touched[open];
      touched = {};
      refreshList();
      if (!hit) return;
      if (composerBusy()) {
        htmx.trigger("#timeline", "refresh");
      } else {
        htmx.ajax("GET", "/inbox/conversations/" + open, { target: "#pane", swap: "innerHTML" });
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
        scheduleRefresh(data.conversation_id, kind);
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
