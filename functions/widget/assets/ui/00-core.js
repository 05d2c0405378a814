/*
 * AgentHub chat UI (ui.<hash>.js), built from the parts in this folder, joined in name order
 * inside one function scope (functions/widget/logic/assets.py). It runs in the loader's srcdoc
 * iframe: its own document, the page's origin. Everything it needs comes from the loader
 * through window.frameElement: the public config (or why it could not be read), the theme,
 * the locale, request() for the API, storage on the page's origin, emit() for the page's
 * listeners.
 *
 * Parts: 00 core (DOM helpers), 10 strings (translations), 20 markdown, 30 messages (citations,
 * timestamps, feedback), 40 steps (a panel that replaces the question field: the lead form,
 * later a slot picker or a payment), 50 lead, 60 conversation (start, ask, restore), 70 live
 * (a person in the conversation: handoff, WebSocket, polling), 90 app (layout, start).
 *
 * No HTML parsing anywhere: text from the API is only ever set as textContent, links are
 * http(s) or mailto only. That is also what lets the widget run under Trusted Types
 * (require-trusted-types-for 'script'), which a srcdoc document inherits from its page.
 */
var frame = window.frameElement;
var ctx = frame && frame.agenthub;
if (!ctx) {
  return;
}
var doc = document;
var state = ctx.state;
var config = state.config || {};
var theme = state.theme;
var SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs, children) {
  var node = doc.createElement(tag);
  Object.keys(attrs || {}).forEach(function (name) {
    var value = attrs[name];
    if (value === null || value === undefined || value === false) {
      return;
    }
    if (name === "text") {
      node.textContent = value;
    } else if (name.slice(0, 2) === "on") {
      node.addEventListener(name.slice(2), value);
    } else {
      node.setAttribute(name, value === true ? "" : value);
    }
  });
  (children || []).forEach(function (child) {
    if (child) {
      node.appendChild(child);
    }
  });
  return node;
}

function icon(path, extra) {
  var svg = doc.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  if (extra) {
    svg.setAttribute("class", extra);
  }
  var shape = doc.createElementNS(SVG, "path");
  shape.setAttribute("d", path);
  svg.appendChild(shape);
  return svg;
}

var CLOSE = "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z";
var SEND = "M3 20.5 21 12 3 3.5 3 10l12 2-12 2z";
var THUMB = "M2 10h4v11H2zM8 21h9.6a2 2 0 0 0 2-1.6l1.3-6.6A2 2 0 0 0 19 10.4h-5.2l.9-4.6A2 2 0 0 0 11.3 4L8 9z";
var NEW = "M4 4h10v2H6v12h12v-8h2v10H4zM18 2h2v3h3v2h-3v3h-2V7h-3V5h3z";
var BACK = "M20 11H7.8l5.6-5.6L12 4l-8 8 8 8 1.4-1.4L7.8 13H20z";

// http(s) and mailto only: an answer can never make a javascript: link
function safeUrl(url) {
  return /^(https?:\/\/|mailto:)/i.test(url || "") ? url : "";
}

function link(href, text) {
  return el("a", { href: href, target: "_blank", rel: "noopener noreferrer nofollow", text: text });
}

function nowIso() {
  return new Date().toISOString();
}
