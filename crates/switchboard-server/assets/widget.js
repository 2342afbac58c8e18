// Switchboard's website chat widget. Served by GET /widget/{key}.js, which wraps this file in
// a function scope and calls switchboardWidget({key, api, name, colour, greeting,
// prechat_email}).
//
// It draws a launcher button and a chat panel inside a shadow root, so the host page's CSS
// cannot reach it and its CSS cannot leak out. Styles are a constructed stylesheet and the DOM
// is built with createElement/textContent: no inline <style>, no inline script, no innerHTML
// of anything a person wrote, so it works under a strict Content-Security-Policy (the host
// must allow this server in script-src and connect-src).
//
// The visitor is anonymous: a random token from POST session, kept in this site's
// localStorage. New replies arrive by long-polling GET messages?wait=25, which the server
// answers as soon as an agent's reply is stored.
//
// Pre-chat email: when the widget asks for one (prechat_email "optional" or "required"), a
// visitor who has not written yet sees a labelled email field above the message box; the
// address travels with their first message and the server checks it (a refusal names the
// field, and the widget puts the focus back on it).

/* exported switchboardWidget */
function switchboardWidget(config) {
  "use strict";
  if (!document.body) {
    document.addEventListener("DOMContentLoaded", function () {
      switchboardWidget(config);
    });
    return;
  }
  var api = config.api + "/widget/v1/" + encodeURIComponent(config.key);
  var storageKey = "switchboard-widget:" + config.key;
  var colour = /^#[0-9a-fA-F]{6}$/.test(config.colour || "") ? config.colour : "#2563eb";

  var CSS = [
    ":host { all: initial; }",
    ".sb { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;",
    "  font: 15px/1.4 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #111827; }",
    ".launcher { background: var(--sb-colour); color: #fff; border: 0; border-radius: 999px;",
    "  padding: 12px 20px; font: inherit; font-weight: 600; cursor: pointer;",
    "  box-shadow: 0 4px 14px rgba(0,0,0,.25); }",
    ".launcher:focus-visible, button:focus-visible, textarea:focus-visible,",
    "input:focus-visible {",
    "  outline: 3px solid #111827; outline-offset: 2px; }",
    ".panel { display: flex; flex-direction: column; width: 340px; max-width: calc(100vw - 40px);",
    "  height: 480px; max-height: calc(100vh - 40px); background: #fff; border-radius: 12px;",
    "  box-shadow: 0 8px 30px rgba(0,0,0,.3); overflow: hidden; }",
    ".panel[hidden], .launcher[hidden], .confirm[hidden], .menu[hidden] { display: none; }",
    ".head { display: flex; align-items: center; justify-content: space-between;",
    "  background: var(--sb-colour); color: #fff; padding: 10px 14px; }",
    ".head h2 { font-size: 16px; margin: 0; }",
    ".head button { background: transparent; color: #fff; border: 0; font: inherit;",
    "  font-size: 20px; cursor: pointer; }",
    ".log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column;",
    "  gap: 8px; background: #f9fafb; }",
    ".msg { max-width: 80%; padding: 8px 12px; border-radius: 12px; white-space: pre-wrap;",
    "  word-wrap: break-word; }",
    ".msg.business, .msg.greeting { align-self: flex-start; background: #e5e7eb; }",
    ".msg.visitor { align-self: flex-end; background: var(--sb-colour); color: #fff; }",
    ".msg.pending { opacity: .6; }",
    ".notice { font-size: 13px; color: #4b5563; text-align: center; margin: 6px 10px 0; }",
    ".notice:empty { display: none; }",
    "form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #e5e7eb; }",
    "label.hidden { position: absolute; width: 1px; height: 1px; overflow: hidden;",
    "  clip: rect(0 0 0 0); }",
    "textarea { flex: 1; resize: none; font: inherit; padding: 6px 8px; border: 1px solid #d1d5db;",
    "  border-radius: 8px; height: 40px; }",
    "button.send, .confirm button.danger { background: var(--sb-colour); color: #fff; border: 0;",
    "  border-radius: 8px; padding: 0 14px; font: inherit; cursor: pointer; }",
    ".confirm button.danger { background: #b91c1c; padding: 6px 10px; }",
    ".menu { display: flex; flex-wrap: wrap; gap: 4px 12px; padding: 6px 10px 10px;",
    "  font-size: 13px; }",
    ".menu button, .confirm button.plain { background: none; border: 0; padding: 0; font: inherit;",
    "  color: #374151; text-decoration: underline; cursor: pointer; }",
    ".msg a { color: inherit; }",
    ".msg img { display: block; max-width: 100%; max-height: 200px; border-radius: 8px; }",
    "button.attach { background: none; border: 1px solid #d1d5db; border-radius: 8px;",
    "  padding: 0 10px; font: inherit; cursor: pointer; }",
    "input.file { display: none; }",
    ".prechat { display: flex; flex-direction: column; gap: 4px; padding: 8px 10px 0;",
    "  border-top: 1px solid #e5e7eb; font-size: 13px; }",
    ".prechat[hidden] { display: none; }",
    ".prechat input { font: inherit; padding: 6px 8px; border: 1px solid #d1d5db;",
    "  border-radius: 8px; }",
    ".prechat input[aria-invalid=true] { border-color: #b91c1c; }",
    ".confirm { padding: 8px 10px; background: #fef2f2; font-size: 13px; display: flex;",
    "  flex-wrap: wrap; gap: 6px; align-items: center; }",
  ].join("\n");

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      node.setAttribute(name, attrs[name]);
    });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // --- the DOM ---------------------------------------------------------------------------------

  var host = el("div", { "data-switchboard-widget": config.key });
  host.style.setProperty("--sb-colour", colour);
  var root = host.attachShadow({ mode: "open" });
  var sheet = new CSSStyleSheet();
  sheet.replaceSync(CSS);
  root.adoptedStyleSheets = [sheet];

  var frame = el("div", { class: "sb" });
  var launcher = el("button", { class: "launcher", type: "button", "aria-expanded": "false" },
    "Chat with us");
  var panel = el("section", { class: "panel", role: "dialog", "aria-label": config.name || "Chat" });
  panel.hidden = true;
  var head = el("div", { class: "head" });
  head.appendChild(el("h2", {}, config.name || "Chat"));
  var close = el("button", { type: "button", "aria-label": "Close chat" }, "\u00d7");
  head.appendChild(close);
  var log = el("div", { class: "log", role: "log", "aria-live": "polite" });
  if (config.greeting) log.appendChild(el("div", { class: "msg greeting" }, config.greeting));
  var status = el("p", { class: "notice", role: "status" });
  var prechatMode = "off";
  var prechat = el("div", { class: "prechat" });
  var emailId = "sb-email";
  var emailLabel = el("label", { for: emailId });
  prechat.appendChild(emailLabel);
  var emailInput = el("input", { id: emailId, type: "email", name: "email", autocomplete: "email",
    maxlength: "254", inputmode: "email" });
  prechat.appendChild(emailInput);
  // Shown only to a visitor who has not written yet, and only when the widget asks.
  prechat.hidden = true;
  var form = el("form", {});
  var inputId = "sb-input";
  form.appendChild(el("label", { for: inputId, class: "hidden" }, "Message"));
  var input = el("textarea", { id: inputId, name: "message", maxlength: "4096",
    placeholder: "Write a message\u2026", "aria-label": "Message" });
  var send = el("button", { class: "send", type: "submit" }, "Send");
  // The file input is hidden behind a labelled button: one keyboard stop, one name.
  var fileInput = el("input", { type: "file", class: "file", tabindex: "-1", "aria-hidden": "true",
    accept: "image/jpeg,image/png,image/gif,image/webp,audio/*,video/mp4,video/webm,application/pdf,text/plain,text/csv" });
  var attach = el("button", { class: "attach", type: "button", "aria-label": "Attach a file" },
    "\ud83d\udcce");
  form.appendChild(attach);
  form.appendChild(fileInput);
  form.appendChild(input);
  form.appendChild(send);
  var menu = el("div", { class: "menu" });
  var downloadJson = el("button", { type: "button" }, "Download this conversation");
  var downloadText = el("button", { type: "button" }, "Download as text");
  var erase = el("button", { type: "button" }, "Delete this conversation");
  menu.appendChild(downloadJson);
  menu.appendChild(downloadText);
  menu.appendChild(erase);
  var confirmBox = el("div", { class: "confirm", role: "alertdialog",
    "aria-label": "Confirm deletion" });
  confirmBox.appendChild(el("span", {},
    "Delete all your messages in this chat for good? This cannot be undone."));
  var confirmYes = el("button", { type: "button", class: "danger" }, "Yes, delete everything");
  var confirmNo = el("button", { type: "button", class: "plain" }, "Cancel");
  confirmBox.appendChild(confirmYes);
  confirmBox.appendChild(confirmNo);
  confirmBox.hidden = true;

  panel.appendChild(head);
  panel.appendChild(log);
  panel.appendChild(status);
  panel.appendChild(prechat);
  panel.appendChild(form);
  panel.appendChild(menu);
  panel.appendChild(confirmBox);
  frame.appendChild(launcher);
  frame.appendChild(panel);
  root.appendChild(frame);
  document.body.appendChild(host);

  // --- state -----------------------------------------------------------------------------------

  var token = null;
  try {
    token = window.localStorage.getItem(storageKey);
  } catch (e) {
    token = null; // Storage blocked: the chat lasts as long as the page.
  }
  var session = null; // the promise of a started session
  var seen = {}; // message id -> its element
  var cursor = null;
  var polling = false;
  var wanted = false;
  var generation = 0;
  var lastBusiness = null;
  var lastRead = null;
  var wrote = false; // the visitor wrote since this page loaded

  function say(text) {
    status.textContent = text || "";
  }

  // Whether the email field is in front of the visitor (they have not written yet).
  function asking() {
    return !prechat.hidden;
  }

  // The script is cached for a day, so the session's answer has the last word on the mode.
  function setPrechatMode(mode) {
    prechatMode = mode === "required" || mode === "optional" ? mode : "off";
    emailLabel.textContent = prechatMode === "required"
      ? "Your email (required to start the chat)"
      : "Your email (optional, so we can answer you later)";
    if (prechatMode === "required") emailInput.setAttribute("aria-required", "true");
    else emailInput.removeAttribute("aria-required");
  }

  function showPrechat(on) {
    prechat.hidden = !on || prechatMode === "off";
    // A file carries no email: a visitor who must give one writes a message first.
    attach.disabled = asking() && prechatMode === "required";
    emailInput.removeAttribute("aria-invalid");
  }

  function emailRefused(e) {
    if (e.code !== "email_required" && e.code !== "invalid_email") return false;
    showPrechat(true);
    emailInput.setAttribute("aria-invalid", "true");
    emailInput.focus();
    return true;
  }
  setPrechatMode(config.prechat_email);
  showPrechat(true);

  function keepToken(value) {
    token = value;
    try {
      if (value) window.localStorage.setItem(storageKey, value);
      else window.localStorage.removeItem(storageKey);
    } catch (e) {
      /* storage blocked */
    }
  }

  function call(method, path, body) {
    var headers = {};
    if (token) headers.Authorization = "Bearer " + token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(api + path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      mode: "cors",
    }).catch(function () {
      // Offline, or refused by CORS (this site is not among the widget's allowed domains):
      // the browser does not say which.
      return Promise.reject(new Error("The chat is unavailable right now."));
    });
  }

  function failure(response) {
    return response.json().then(
      function (b) {
        var error = (b && b.error) || {};
        var e = new Error(error.message || "The chat is unavailable.");
        e.code = error.code;
        e.status = response.status;
        return Promise.reject(e);
      },
      function () {
        var e = new Error("The chat is unavailable.");
        e.status = response.status;
        return Promise.reject(e);
      }
    );
  }

  function json(response) {
    return response.ok ? response.json() : failure(response);
  }

  function startSession() {
    if (session) return session;
    session = call("POST", "/session")
      .then(function (response) {
        if (response.status === 401 && token) {
          // The token was deleted (the visitor erased the conversation): start afresh.
          keepToken(null);
          return call("POST", "/session");
        }
        return response;
      })
      .then(json)
      .then(function (s) {
        if (s.token) keepToken(s.token);
        return s;
      });
    session.catch(function () {
      session = null;
    });
    return session;
  }

  function render(m) {
    var node = seen[m.id];
    if (!node) {
      node = el("div", { class: "msg " + m.from, "data-id": m.id });
      seen[m.id] = node;
      log.appendChild(node);
    }
    node.textContent = "";
    if (m.attachment) {
      // The link opens for an hour; a later poll brings a fresh one.
      var a = el("a", { href: m.attachment.url, target: "_blank", rel: "noopener noreferrer" });
      if (/^image\//.test(m.attachment.content_type)) {
        a.appendChild(el("img", { src: m.attachment.url, alt: m.text || "Image" }));
      } else {
        a.textContent = m.attachment.name || "Download the file";
      }
      node.appendChild(a);
      if (m.text) node.appendChild(el("div", {}, m.text));
    } else {
      node.textContent = m.text || "(attachment)";
    }
    if (m.from === "business" && (!lastBusiness || m.id > lastBusiness)) lastBusiness = m.id;
    if (!cursor || m.id > cursor) cursor = m.id;
  }

  function showAll(list) {
    list.forEach(render);
    log.scrollTop = log.scrollHeight;
    markRead();
  }

  function markRead() {
    if (panel.hidden || document.visibilityState !== "visible") return;
    if (!lastBusiness || lastBusiness === lastRead) return;
    var upTo = lastBusiness;
    call("POST", "/read", { up_to: upTo }).then(function (r) {
      if (r.ok) lastRead = upTo;
    }, function () {});
  }

  function load(wait) {
    var mine = generation;
    var query = "?wait=" + wait + (cursor ? "&after=" + encodeURIComponent(cursor) : "");
    return call("GET", "/messages" + query).then(json).then(function (page) {
      if (mine === generation) showAll(page.data);
      return page;
    });
  }

  // One long-poll loop at a time; deleting the conversation starts a new generation, and a
  // loop of an older generation ends quietly when its request returns.
  function poll() {
    wanted = true;
    if (polling) return;
    polling = true;
    var mine = generation;
    var delay = 1000;
    (function next() {
      if (mine !== generation) {
        polling = false;
        if (wanted) poll();
        return;
      }
      load(25).then(
        function () {
          delay = 1000;
          next();
        },
        function (e) {
          if (mine !== generation) return next();
          if (e.status === 401 || e.status === 410 || e.status === 403) {
            polling = false;
            wanted = false;
            say(e.message);
            return;
          }
          delay = Math.min(delay * 2, 30000);
          setTimeout(next, delay);
        }
      );
    })();
  }

  function randomId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  // A send is retried with the same id after a network failure: the server stores it once.
  function deliver(body, attempt) {
    return call("POST", "/messages", body).then(json, function (networkError) {
      if (attempt >= 3) return Promise.reject(networkError);
      return new Promise(function (resolve) {
        setTimeout(resolve, 1000 * (attempt + 1));
      }).then(function () {
        return deliver(body, attempt + 1);
      });
    });
  }

  // --- events ----------------------------------------------------------------------------------

  function open() {
    panel.hidden = false;
    launcher.hidden = true;
    launcher.setAttribute("aria-expanded", "true");
    if (asking()) emailInput.focus();
    else input.focus();
    startSession().then(function (s) {
      say("");
      var focused = root.activeElement === emailInput;
      if (s.widget) setPrechatMode(s.widget.prechat_email);
      showPrechat(!s.has_conversation && !wrote);
      if (focused && !asking()) input.focus();
      if (s.has_conversation) {
        load(0).then(poll, function (e) {
          say(e.message);
        });
      }
    }, function (e) {
      say(e.message);
    });
  }

  launcher.addEventListener("click", open);
  close.addEventListener("click", function () {
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  });
  document.addEventListener("visibilitychange", markRead);

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    var body = { id: randomId(), text: text };
    if (asking()) {
      var email = emailInput.value.trim();
      if (!email && prechatMode === "required") {
        emailInput.setAttribute("aria-invalid", "true");
        say("Enter your email address to start the chat.");
        emailInput.focus();
        return;
      }
      if (email) body.email = email;
    }
    var pending = el("div", { class: "msg visitor pending" }, text);
    log.appendChild(pending);
    log.scrollTop = log.scrollHeight;
    input.value = "";
    startSession()
      .then(function () {
        return deliver(body, 0);
      })
      .then(function (sent) {
        pending.remove();
        render(sent.message);
        wrote = true;
        showPrechat(false);
        say("");
        poll();
      }, function (e) {
        pending.remove();
        input.value = text;
        say(e.message || "Your message could not be sent; try again.");
        emailRefused(e);
      });
  });
  attach.addEventListener("click", function () {
    fileInput.click();
  });
  fileInput.addEventListener("change", function () {
    var file = fileInput.files && fileInput.files[0];
    fileInput.value = "";
    if (!file) return;
    var pending = el("div", { class: "msg visitor pending" }, file.name);
    log.appendChild(pending);
    log.scrollTop = log.scrollHeight;
    var path = "/attachments?id=" + encodeURIComponent(randomId()) +
      "&name=" + encodeURIComponent(file.name);
    startSession()
      .then(function () {
        return fetch(api + path, {
          method: "POST",
          headers: { Authorization: "Bearer " + token, "Content-Type": file.type || "application/octet-stream" },
          body: file,
          credentials: "omit",
          mode: "cors",
        }).catch(function () {
          return Promise.reject(new Error("The chat is unavailable right now."));
        });
      })
      .then(json)
      .then(function (sent) {
        pending.remove();
        render(sent.message);
        wrote = true;
        showPrechat(false);
        say("");
        poll();
      }, function (e) {
        pending.remove();
        say(e.message || "The file could not be sent; try again.");
        emailRefused(e);
      });
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  function download(format) {
    startSession()
      .then(function () {
        return call("GET", "/transcript?format=" + format);
      })
      .then(function (response) {
        return response.ok ? response.blob() : failure(response);
      })
      .then(function (blob) {
        var url = URL.createObjectURL(blob);
        var a = el("a", { href: url, download: "conversation." + (format === "text" ? "txt" : "json") });
        root.appendChild(a);
        a.click();
        a.remove();
        setTimeout(function () {
          URL.revokeObjectURL(url);
        }, 10000);
      }, function (e) {
        say(e.message);
      });
  }
  downloadJson.addEventListener("click", function () {
    download("json");
  });
  downloadText.addEventListener("click", function () {
    download("text");
  });

  erase.addEventListener("click", function () {
    confirmBox.hidden = false;
    confirmYes.focus();
  });
  confirmNo.addEventListener("click", function () {
    confirmBox.hidden = true;
    erase.focus();
  });
  confirmYes.addEventListener("click", function () {
    if (!token) {
      confirmBox.hidden = true;
      say("There is nothing to delete.");
      return;
    }
    call("DELETE", "/conversation").then(json).then(function () {
      generation += 1;
      wanted = false;
      keepToken(null);
      session = null;
      Object.keys(seen).forEach(function (id) {
        seen[id].remove();
      });
      seen = {};
      cursor = null;
      lastBusiness = null;
      lastRead = null;
      confirmBox.hidden = true;
      // A new message starts a new, separate conversation (asking for the email again).
      emailInput.value = "";
      wrote = false;
      showPrechat(true);
      say("Your conversation was deleted.");
    }, function (e) {
      confirmBox.hidden = true;
      say(e.message);
    });
  });
}
