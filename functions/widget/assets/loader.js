/*
 * AgentHub widget loader (served as widget.js). A customer's site embeds it with one tag:
 *   <script src="https://<assets>/widget.js" data-agent="ag_..." data-key="pk_..." async></script>
 *
 * - The launcher lives in a shadow root: the page's CSS cannot reach it, ours cannot leak out.
 * - The chat is an iframe whose document is `srcdoc`: a separate document (full CSS isolation,
 *   room for a payment form later) that shares the page's origin, so every API call carries
 *   the page's Origin and the API alone decides whether this site may use the key.
 * - The build writes the content-hashed names of the UI files below: this loader can only
 *   ever load the UI it was built with (docs/widget.md).
 * - All network calls go through request() here; the UI calls it through the context object.
 */
(function () {
  "use strict";
  var UI_JS = "__AGENTHUB_UI_JS__";
  var UI_CSS = "__AGENTHUB_UI_CSS__";
  var VERSION = "__AGENTHUB_VERSION__";
  var win = window;
  var doc = document;
  var queued = win.AgentHub;
  if (queued && queued.version) {
    return;
  }
  var script = doc.currentScript || doc.querySelector("script[data-agent][data-key]");
  if (!script) {
    return;
  }
  var agent = script.getAttribute("data-agent") || "";
  var key = script.getAttribute("data-key") || "";
  var src = new URL(script.src, location.href);
  var assets = new URL(".", src).href;
  // The API's public routes are served by the same CloudFront distribution as this file.
  var api = (script.getAttribute("data-api") || src.origin).replace(/\/+$/, "");
  var base = api + "/v1/public/agents/" + encodeURIComponent(agent);
  var storeKey = "agenthub:" + agent;
  var listeners = [];
  var state = { config: null, error: null, theme: null, identity: null, ready: false, open: false };
  var wantOpen = false;
  var host, shadow, box, launcher, frame, ui;

  var CSS =
    ":host{all:initial!important;display:block!important}" +
    ".w{display:none;position:fixed;bottom:20px;right:20px;z-index:2147483000}" +
    ".w.r{display:block}.w.l{right:auto;left:20px}" +
    ".b{all:unset;box-sizing:border-box;width:56px;height:56px;border-radius:50%;" +
    "display:flex;align-items:center;justify-content:center;cursor:pointer;" +
    "background:var(--c);color:var(--f);box-shadow:0 4px 14px rgba(0,0,0,.25);" +
    "transition:transform .15s}" +
    ".b:hover{transform:scale(1.06)}.b:focus-visible{outline:3px solid var(--c);outline-offset:3px}" +
    ".b svg{width:28px;height:28px;fill:currentColor}.x,.o .m{display:none}.o .x{display:block}" +
    "iframe{display:none;position:fixed;bottom:88px;right:20px;width:380px;" +
    "height:min(640px,calc(100vh - 108px));border:0;border-radius:16px;background:#fff;" +
    "box-shadow:0 12px 40px rgba(0,0,0,.25);color-scheme:light}" +
    ".l iframe{right:auto;left:20px}.o iframe{display:block}" +
    "@media (max-width:480px){iframe{inset:0;width:100%;height:100%;border-radius:0}.o .b{display:none}}" +
    "@media (prefers-reduced-motion:reduce){.b{transition:none}}";
  var BUTTON =
    '<button class="b" type="button" aria-expanded="false">' +
    '<svg class="m" viewBox="0 0 24 24" aria-hidden="true"><path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"/></svg>' +
    '<svg class="x" viewBox="0 0 24 24" aria-hidden="true"><path d="M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z"/></svg>' +
    "</button>";

  // ------------------------------------------------------------------ network
  function failure(status, data, retryAfter) {
    var error = (data && data.error) || {};
    var e = new Error(error.message || "request failed");
    e.status = status;
    e.code = error.code || "";
    e.details = error.details;
    e.retryAfter = parseInt(retryAfter, 10) || 0;
    return e;
  }

  function request(method, path, body) {
    var init = {
      method: method,
      mode: "cors",
      credentials: "omit",
      headers: { Authorization: "Bearer " + key }
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(base + path, init).then(
      function (res) {
        return res.json().catch(function () { return null; }).then(function (data) {
          if (res.ok) {
            return data;
          }
          throw failure(res.status, data, res.headers.get("Retry-After"));
        });
      },
      function () {
        // The browser does not say why a request failed. When the API refuses an origin
        // without CORS headers, a no-cors request still reaches it: that tells "refused here"
        // apart from "cannot reach the server" (offline).
        if (navigator.onLine === false) {
          throw failure(0);
        }
        return fetch(base + "/config", { mode: "no-cors", credentials: "omit", cache: "no-store" }).then(
          function () { throw failure(403, { error: { code: "origin_not_allowed" } }); },
          function () { throw failure(0); }
        );
      }
    );
  }

  // ------------------------------------------------------------------ storage (the page's origin)
  function load() {
    try {
      return JSON.parse(win.localStorage.getItem(storeKey) || "null");
    } catch (e) {
      return null;
    }
  }

  function save(value) {
    try {
      if (value) {
        win.localStorage.setItem(storeKey, JSON.stringify(value));
      } else {
        win.localStorage.removeItem(storeKey);
      }
    } catch (e) {
      // storage blocked: the conversation lasts as long as the page
    }
  }

  // ------------------------------------------------------------------ theme
  function theme(config) {
    var t = (config && config.theme) || {};
    var color = /^#[0-9a-f]{6}$/i.test(t.primary_color || "") ? t.primary_color : "#2563eb";
    var n = parseInt(color.slice(1), 16);
    var light = ((n >> 16) * 299 + ((n >> 8) & 255) * 587 + (n & 255) * 114) / 1000 > 160;
    return {
      color: color,
      fg: light ? "#111827" : "#ffffff",
      left: t.position === "bottom-left",
      title: t.title || (config && config.name) || "Chat",
      avatar: /^https:\/\//.test(t.avatar_url || "") ? t.avatar_url : ""
    };
  }

  function label() {
    launcher.setAttribute("aria-label", (state.open ? "Close chat with " : "Open chat with ") + state.theme.title);
    launcher.setAttribute("aria-expanded", state.open ? "true" : "false");
  }

  // ------------------------------------------------------------------ launcher and panel
  function mount() {
    host = doc.createElement("agenthub-widget");
    shadow = host.attachShadow({ mode: "open" });
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      shadow.adoptedStyleSheets = [sheet];
    } catch (e) {
      var style = doc.createElement("style");
      style.textContent = CSS;
      shadow.appendChild(style);
    }
    box = doc.createElement("div");
    box.className = "w";
    box.innerHTML = BUTTON;
    launcher = box.firstChild;
    launcher.addEventListener("click", function () {
      if (state.open) {
        close();
      } else {
        open();
      }
    });
    launcher.addEventListener("pointerenter", prefetch, { once: true });
    launcher.addEventListener("focus", prefetch, { once: true });
    box.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && state.open) {
        close();
      }
    });
    shadow.appendChild(box);
    doc.body.appendChild(host);
  }

  function ready() {
    var t = (state.theme = theme(state.config));
    box.style.setProperty("--c", t.color);
    box.style.setProperty("--f", t.fg);
    box.classList.toggle("l", t.left);
    box.classList.add("r");
    label();
    state.ready = true;
    host.setAttribute("data-state", state.error ? "error" : "ready");
    if (win.performance && performance.mark) {
      performance.mark("agenthub:ready");
    }
    win.dispatchEvent(new CustomEvent("agenthub:ready", { detail: { error: !!state.error } }));
    if (wantOpen) {
      open();
    }
  }

  function prefetch() {
    [[UI_JS, "script"], [UI_CSS, "style"]].forEach(function (item) {
      var link = doc.createElement("link");
      link.rel = "preload";
      link.as = item[1];
      link.href = assets + item[0];
      doc.head.appendChild(link);
    });
  }

  function attr(text) {
    return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
  }

  function build() {
    frame = doc.createElement("iframe");
    frame.title = "Chat with " + state.theme.title;
    frame.setAttribute("allow", "payment; clipboard-write");
    // The UI reads this through window.frameElement: same origin, no message passing.
    frame.agenthub = context;
    frame.srcdoc =
      '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
      '<meta name="viewport" content="width=device-width,initial-scale=1">' +
      '<link rel="stylesheet" href="' + attr(assets + UI_CSS) + '">' +
      '<script src="' + attr(assets + UI_JS) + '" defer></script></head><body></body></html>';
    box.insertBefore(frame, launcher);
  }

  function open() {
    if (!state.ready) {
      wantOpen = true;
      return;
    }
    wantOpen = false;
    if (state.open) {
      return;
    }
    state.open = true;
    box.classList.add("o");
    label();
    if (!frame) {
      build();
    } else if (ui) {
      ui.opened();
    }
  }

  function close() {
    wantOpen = false;
    if (!state.open) {
      return;
    }
    var focused = shadow.activeElement;
    state.open = false;
    box.classList.remove("o");
    label();
    if (focused === frame || focused === launcher) {
      launcher.focus();
    }
  }

  var context = {
    version: VERSION,
    state: state,
    request: request,
    load: load,
    save: save,
    close: close,
    attach: function (api) {
      ui = api;
      if (state.open) {
        ui.opened();
      }
    },
    emit: function (message) {
      listeners.slice().forEach(function (callback) {
        try {
          callback(message);
        } catch (e) {
          setTimeout(function () { throw e; });
        }
      });
    }
  };

  // ------------------------------------------------------------------ public API
  var AgentHub = (win.AgentHub = {
    version: VERSION,
    open: open,
    close: close,
    identify: function (visitor) {
      if (!visitor || typeof visitor.id !== "string" || typeof visitor.signature !== "string") {
        throw new TypeError("AgentHub.identify expects {id, signature} (strings)");
      }
      var changed = !state.identity || state.identity.id !== visitor.id;
      state.identity = { id: visitor.id, signature: visitor.signature };
      var saved = load();
      if (changed && saved && saved.v !== visitor.id) {
        save(null);
        if (ui) {
          ui.reset();
        }
      }
    },
    onMessage: function (callback) {
      if (typeof callback !== "function") {
        throw new TypeError("AgentHub.onMessage expects a function");
      }
      listeners.push(callback);
      return function () {
        var i = listeners.indexOf(callback);
        if (i >= 0) {
          listeners.splice(i, 1);
        }
      };
    }
  });

  // ------------------------------------------------------------------ start
  var config = request("GET", "/config").then(
    function (data) { state.config = data; },
    function (error) {
      state.error = error;
      if (error.status === 403) {
        console.warn("AgentHub: " + location.origin + " is not an allowed origin of this widget key");
      }
    }
  );
  var body = new Promise(function (resolve) {
    if (doc.body) {
      resolve();
    } else {
      doc.addEventListener("DOMContentLoaded", resolve);
    }
  });
  Promise.all([config, body]).then(function () {
    mount();
    ready();
  });
  // Calls queued before this file arrived: window.AgentHub = window.AgentHub || [];
  // AgentHub.push(["open"]).
  if (queued && queued.length) {
    queued.forEach(function (call) {
      if (call && typeof AgentHub[call[0]] === "function") {
        AgentHub[call[0]].apply(AgentHub, call.slice(1));
      }
    });
  }
})();
