/*
 * AgentHub widget loader (served as widget.js). A customer's site embeds it with one tag:
 *   <script src="https://<assets>/widget.js" data-agent="ag_..." data-key="pk_..." async></script>
 *
 * - The launcher lives in a shadow root: the page's CSS cannot reach it, ours cannot leak out.
 * - The chat is an iframe whose document is `srcdoc`: a separate document (full CSS isolation,
 *   room for a payment form later) that shares the page's origin, so every API call carries
 *   the page's Origin and the API alone decides whether this site may use the key.
 * - A site the key does not allow gets nothing: no launcher, no chat files, one console
 *   warning for its owner.
 * - No HTML parsing from strings (no innerHTML): under Trusted Types
 *   (require-trusted-types-for 'script') the one HTML sink, the iframe's srcdoc, goes through
 *   a policy named "agenthub-widget" that only this closure can call, with a fixed template.
 * - The build writes the content-hashed names of the UI files below: this loader can only
 *   ever load the UI it was built with (docs/widget.md).
 * - All network calls go through request() and connect() here; the UI calls them through the
 *   context object.
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
  var listeners = { open: [], close: [], message: [] };
  var state = { config: null, error: null, theme: null, identity: null, context: null, ready: false, open: false };
  var wantOpen = false;
  var prefill = null;
  var host, shadow, box, launcher, frame, ui, policy;
  // The launcher's words; the chat's own are in ui/10-strings.js.
  var LABELS = {
    en: ["Open chat with ", "Close chat with ", "Chat with "],
    de: ["Chat öffnen: ", "Chat schließen: ", "Chat mit "],
    es: ["Abrir el chat con ", "Cerrar el chat con ", "Chat con "],
    fr: ["Ouvrir la discussion avec ", "Fermer la discussion avec ", "Discussion avec "],
    pt: ["Abrir o chat com ", "Fechar o chat com ", "Chat com "],
    ar: ["فتح المحادثة مع ", "إغلاق المحادثة مع ", "محادثة مع "]
  };

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
    "box-shadow:0 12px 40px rgba(0,0,0,.25)}" +
    ".d iframe{background:#111827}@media (prefers-color-scheme:dark){.a iframe{background:#111827}}" +
    ".l iframe{right:auto;left:20px}.o iframe{display:block}" +
    "@media (max-width:480px){iframe{inset:0;width:100%;height:100%;border-radius:0}.o .b{display:none}}" +
    "@media (prefers-reduced-motion:reduce){.b{transition:none}}";
  var CHAT = "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z";
  var CROSS = "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z";

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

  // Every answer of the API, refusals and throttling included, carries CORS headers for the
  // page's origin and exposes Retry-After: a request that fails without a status never reached
  // the API (the visitor is offline).
  // headers: more request headers (the booking step's Idempotency-Key)
  function request(method, path, body, headers) {
    var init = {
      method: method,
      mode: "cors",
      credentials: "omit",
      headers: Object.assign({ Authorization: "Bearer " + key }, headers)
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
        throw failure(0);
      }
    );
  }

  // The conversation's live channel (a WebSocket API): the key and agent travel in the URL
  // (a browser cannot set headers on a WebSocket; the handshake's Origin is the page's) and
  // in the first message, `hello`, sent once the socket is open.
  function connect(url, hello) {
    var socket = new WebSocket(url + (url.indexOf("?") < 0 ? "?" : "&") +
      "agent=" + encodeURIComponent(agent) + "&key=" + encodeURIComponent(key));
    socket.addEventListener("open", function () {
      hello.agent_id = agent;
      hello.key = key;
      socket.send(JSON.stringify(hello));
    });
    return socket;
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

  // ------------------------------------------------------------------ theme, words
  function theme(config) {
    var t = (config && config.theme) || {};
    var color = /^#[0-9a-f]{6}$/i.test(t.primary_color || "") ? t.primary_color : "#2563eb";
    var n = parseInt(color.slice(1), 16);
    var light = ((n >> 16) * 299 + ((n >> 8) & 255) * 587 + (n & 255) * 114) / 1000 > 160;
    return {
      color: color,
      fg: light ? "#111827" : "#ffffff",
      left: t.position === "bottom-left",
      mode: t.mode === "dark" || t.mode === "light" ? t.mode : "auto",
      title: t.title || (config && config.name) || "Chat",
      avatar: /^https:\/\//.test(t.avatar_url || "") ? t.avatar_url : ""
    };
  }

  // The agent's locale; "auto": the visitor's first browser language we have words for.
  function locale(config) {
    var wanted = (config && config.locale) || "en";
    var candidates = wanted === "auto" ? (navigator.languages || [navigator.language || ""]) : [wanted];
    for (var i = 0; i < candidates.length; i++) {
      var code = String(candidates[i]).toLowerCase().split("-")[0];
      if (LABELS[code]) {
        return code;
      }
    }
    return "en";
  }

  function label() {
    var words = LABELS[state.locale];
    launcher.setAttribute("aria-label", words[state.open ? 1 : 0] + state.theme.title);
    launcher.setAttribute("aria-expanded", state.open ? "true" : "false");
  }

  // ------------------------------------------------------------------ launcher and panel
  function svg(path, name) {
    var ns = "http://www.w3.org/2000/svg";
    var node = doc.createElementNS(ns, "svg");
    node.setAttribute("class", name);
    node.setAttribute("viewBox", "0 0 24 24");
    node.setAttribute("aria-hidden", "true");
    var shape = doc.createElementNS(ns, "path");
    shape.setAttribute("d", path);
    node.appendChild(shape);
    return node;
  }

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
    launcher = doc.createElement("button");
    launcher.className = "b";
    launcher.type = "button";
    launcher.appendChild(svg(CHAT, "m"));
    launcher.appendChild(svg(CROSS, "x"));
    box.appendChild(launcher);
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
    var t = state.theme;
    box.style.setProperty("--c", t.color);
    box.style.setProperty("--f", t.fg);
    box.classList.toggle("l", t.left);
    if (t.mode !== "light") {
      box.classList.add(t.mode === "dark" ? "d" : "a");
    }
    box.classList.add("r");
    label();
    state.ready = true;
    host.setAttribute("data-state", state.error ? "error" : "ready");
    if (win.performance && performance.mark) {
      performance.mark("agenthub:ready");
    }
    win.dispatchEvent(new CustomEvent("agenthub:ready", { detail: { error: !!state.error, refused: false } }));
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

  // Under Trusted Types a srcdoc needs TrustedHTML: a policy only this closure holds, used for
  // the one template below. Without Trusted Types, the string itself.
  function html(text) {
    return policy ? policy.createHTML(text) : text;
  }

  function build() {
    frame = doc.createElement("iframe");
    frame.title = LABELS[state.locale][2] + state.theme.title;
    frame.setAttribute("allow", "payment; clipboard-write");
    // The UI reads this through window.frameElement: same origin, no message passing.
    frame.agenthub = context;
    frame.srcdoc = html(
      '<!doctype html><html lang="' + state.locale + '" dir="' + state.dir + '"><head><meta charset="utf-8">' +
      '<meta name="viewport" content="width=device-width,initial-scale=1">' +
      '<link rel="stylesheet" href="' + attr(assets + UI_CSS) + '">' +
      '<script src="' + attr(assets + UI_JS) + '" defer></script></head><body></body></html>'
    );
    box.insertBefore(frame, launcher);
  }

  function emit(name, detail) {
    listeners[name].slice().forEach(function (callback) {
      try {
        callback(detail);
      } catch (e) {
        setTimeout(function () { throw e; });
      }
    });
  }

  // options.message: text to put in the question field (the visitor still sends it)
  function open(options) {
    if (options && typeof options.message === "string") {
      prefill = options.message;
    }
    if (!state.ready) {
      wantOpen = true;
      return;
    }
    wantOpen = false;
    if (state.open) {
      flush();
      return;
    }
    state.open = true;
    box.classList.add("o");
    label();
    if (!frame) {
      build();
    } else if (ui) {
      ui.opened();
      flush();
    }
    emit("open", {});
  }

  function flush() {
    if (ui && prefill !== null) {
      ui.prefill(prefill);
      prefill = null;
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
    emit("close", {});
  }

  var context = {
    version: VERSION,
    api: api,
    state: state,
    request: request,
    connect: connect,
    load: load,
    save: save,
    close: close,
    attach: function (api) {
      ui = api;
      if (state.open) {
        ui.opened();
        flush();
      }
    },
    emit: function (message) {
      emit("message", message);
    }
  };

  function on(name, callback) {
    if (!listeners[name] || typeof callback !== "function") {
      throw new TypeError("AgentHub.on expects 'open', 'close' or 'message' and a function");
    }
    listeners[name].push(callback);
    return function () {
      var i = listeners[name].indexOf(callback);
      if (i >= 0) {
        listeners[name].splice(i, 1);
      }
    };
  }

  // ------------------------------------------------------------------ public API
  var AgentHub = (win.AgentHub = {
    version: VERSION,
    open: open,
    close: close,
    on: on,
    onMessage: function (callback) {
      return on("message", callback);
    },
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
    // What the page tells the agent about where the visitor is: up to 20 short values, sent
    // with every question ({plan: "pro", page: "pricing"}); null forgets it.
    setContext: function (values) {
      if (values === null) {
        state.context = null;
        return;
      }
      var names = values && typeof values === "object" ? Object.keys(values) : null;
      var ok = names && names.length <= 20 && names.every(function (name) {
        var value = values[name];
        return /^[A-Za-z0-9_.-]{1,40}$/.test(name) &&
          (typeof value === "number" || typeof value === "boolean" || (typeof value === "string" && value.length <= 500));
      });
      if (!ok) {
        throw new TypeError("AgentHub.setContext: up to 20 names [A-Za-z0-9_.-] with numbers, booleans or strings (<= 500)");
      }
      state.context = JSON.parse(JSON.stringify(values));
    }
  });

  // ------------------------------------------------------------------ start
  var config = request("GET", "/config").then(
    function (data) { state.config = data; },
    function (error) { state.error = error; }
  );
  var body = new Promise(function (resolve) {
    if (doc.body) {
      resolve();
    } else {
      doc.addEventListener("DOMContentLoaded", resolve);
    }
  });
  Promise.all([config, body]).then(function () {
    var error = state.error;
    if (error && error.status >= 400 && error.status < 500) {
      // This site may not use the key (or the key or agent is wrong): nothing for visitors,
      // one line for the site's owner.
      console.warn("AgentHub: widget off: " + (error.status === 403
        ? location.origin + " is not an allowed origin of this widget key"
        : "the key or agent id is not valid (HTTP " + error.status + ")"));
      win.dispatchEvent(new CustomEvent("agenthub:ready", { detail: { error: true, refused: true } }));
      return;
    }
    if (win.trustedTypes) {
      try {
        policy = win.trustedTypes.createPolicy("agenthub-widget", { createHTML: function (s) { return s; } });
      } catch (e) {
        console.warn("AgentHub: widget off: allow the policy agenthub-widget in trusted-types");
        return;
      }
    }
    state.theme = theme(state.config);
    state.locale = locale(state.config);
    state.dir = /^(ar|he|fa|ur)$/.test(state.locale) ? "rtl" : "ltr";
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
