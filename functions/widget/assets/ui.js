/*
 * AgentHub chat UI (ui.<hash>.js). Runs in the loader's srcdoc iframe: its own document, the
 * page's origin. Everything it needs comes from the loader through window.frameElement: the
 * public config (or why it could not be read), the theme, request() for the API, storage on
 * the page's origin, and emit() for AgentHub.onMessage listeners.
 * Text from the API is only ever set as textContent; links are http(s) only.
 */
(function () {
  "use strict";
  var frame = window.frameElement;
  var ctx = frame && frame.agenthub;
  if (!ctx) {
    return;
  }
  var doc = document;
  var state = ctx.state;
  var config = state.config || {};
  var theme = state.theme;
  var tools = config.tools || [];
  var conversation = null;
  var busy = false;
  var restored = false;

  // ------------------------------------------------------------------ DOM helpers
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
    var svg = doc.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    if (extra) {
      svg.setAttribute("class", extra);
    }
    var shape = doc.createElementNS("http://www.w3.org/2000/svg", "path");
    shape.setAttribute("d", path);
    svg.appendChild(shape);
    return svg;
  }

  var CLOSE = "M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6l5.6-5.6L5 6.4z";
  var SEND = "M3 20.5 21 12 3 3.5 3 10l12 2-12 2z";
  var THUMB = "M2 10h4v11H2zM8 21h9.6a2 2 0 0 0 2-1.6l1.3-6.6A2 2 0 0 0 19 10.4h-5.2l.9-4.6A2 2 0 0 0 11.3 4L8 9z";

  function safeUrl(url) {
    return /^https?:\/\//i.test(url || "") ? url : "";
  }

  // ------------------------------------------------------------------ layout
  doc.documentElement.style.setProperty("--c", theme.color);
  doc.documentElement.style.setProperty("--f", theme.fg);
  var title = el("h1", { id: "title", text: theme.title });
  var closeButton = el("button", { class: "icon", type: "button", "aria-label": "Close chat", onclick: ctx.close }, [icon(CLOSE)]);
  var banner = el("div", { class: "banner", role: "alert" });
  var log = el("ol", { class: "log", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
  var typing = el("div", { class: "typing", role: "status", "aria-live": "polite" });
  var chips = el("div", { class: "chips", role: "group", "aria-label": "Suggested questions" });
  var input = el("textarea", { id: "q", rows: "1", maxlength: "2000", placeholder: "Ask a question…", autocomplete: "off" });
  var send = el("button", { class: "send", type: "submit", "aria-label": "Send" }, [icon(SEND)]);
  var askForm = el("form", { class: "ask", onsubmit: function (event) {
    event.preventDefault();
    ask(input.value);
  } }, [el("label", { class: "sr", for: "q", text: "Your question" }), input, send]);
  var leadButton = el("button", { type: "button", class: "link", text: "Leave your contact details", onclick: toggleLead });
  var handoffButton = el("button", { type: "button", class: "link", text: "Talk to a person", onclick: handoff });
  var actions = el("div", { class: "actions" }, [
    tools.indexOf("lead_capture") >= 0 ? leadButton : null,
    tools.indexOf("handoff") >= 0 ? handoffButton : null
  ]);
  var leadForm = buildLeadForm();
  doc.body.appendChild(el("main", { class: "app", "aria-labelledby": "title" }, [
    el("header", {}, [
      theme.avatar ? el("img", { src: theme.avatar, alt: "", width: "32", height: "32" }) : null,
      title,
      closeButton
    ]),
    banner,
    log,
    typing,
    chips,
    leadForm,
    askForm,
    actions
  ]));

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ask(input.value);
    }
  });
  input.addEventListener("input", grow);
  doc.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      event.preventDefault();
      ctx.close();
    }
  });
  window.addEventListener("offline", function () { showError(words({ status: 0 })); });
  window.addEventListener("online", function () {
    if (banner.getAttribute("data-kind") === "offline") {
      showError("");
    }
  });

  function grow() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
  }

  // ------------------------------------------------------------------ words
  function words(error) {
    var status = error.status;
    if (status === 0) {
      return "You seem to be offline. Check your connection and try again.";
    }
    if (status === 403) {
      return "This website isn't allowed to use this assistant.";
    }
    if (status === 429) {
      var wait = error.retryAfter ? error.retryAfter + " seconds" : "a minute";
      return "You're sending messages too quickly. Please wait " + wait + " and try again.";
    }
    if (status === 503) {
      return "The assistant is busy right now. Please try again in a moment.";
    }
    if (status === 413) {
      return "That message is too long. Please shorten it.";
    }
    if (status === 401) {
      return "We couldn't confirm who you are. Please reload the page.";
    }
    return "Something went wrong on our side. Please try again.";
  }

  function showError(text, kind) {
    banner.textContent = text;
    banner.setAttribute("data-kind", text ? kind || "error" : "");
  }

  // ------------------------------------------------------------------ messages
  function scroll() {
    log.scrollTop = log.scrollHeight;
  }

  function note(text) {
    log.appendChild(el("li", { class: "note", text: text }));
    scroll();
  }

  function citationFor(citations, index) {
    for (var i = 0; i < citations.length; i++) {
      if (citations[i].index === index) {
        return citations[i];
      }
    }
    return null;
  }

  function renderText(node, text, citations) {
    var pattern = /\[(\d+)\]/g;
    var last = 0;
    var match;
    while ((match = pattern.exec(text))) {
      var cited = citationFor(citations, parseInt(match[1], 10));
      if (!cited) {
        continue;
      }
      node.appendChild(doc.createTextNode(text.slice(last, match.index)));
      var url = safeUrl(cited.source_url);
      var mark = url
        ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer", "aria-label": "Source " + cited.index + ": " + cited.title, text: match[0] })
        : el("span", { "aria-label": "Source " + cited.index, text: match[0] });
      node.appendChild(el("sup", {}, [mark]));
      last = pattern.lastIndex;
    }
    node.appendChild(doc.createTextNode(text.slice(last)));
  }

  function sources(citations) {
    return el("div", { class: "src" }, [
      el("p", { text: "Sources" }),
      el("ol", {}, citations.map(function (c) {
        var url = safeUrl(c.source_url);
        var name = c.title || c.file_name || "Source " + c.index;
        var where = [c.file_name && c.file_name !== name ? c.file_name : "", c.page ? "p. " + c.page : ""].filter(Boolean).join(", ");
        return el("li", { value: String(c.index) }, [
          url ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer", text: name }) : el("span", { text: name }),
          where ? el("span", { class: "where", text: " (" + where + ")" }) : null
        ]);
      }))
    ]);
  }

  function feedback(message) {
    var thanks = el("span", { class: "thanks", "aria-live": "polite" });
    var buttons = [["up", "Helpful", ""], ["down", "Not helpful", "down"]].map(function (choice) {
      var button = el("button", {
        type: "button",
        "aria-label": choice[1],
        "aria-pressed": message.feedback && message.feedback.rating === choice[0] ? "true" : "false",
        onclick: function () { rate(message, choice[0], buttons, thanks); }
      }, [icon(THUMB, choice[2])]);
      return button;
    });
    return el("div", { class: "fb", role: "group", "aria-label": "Was this answer helpful?" }, buttons.concat([thanks]));
  }

  function addMessage(message) {
    var mine = message.role === "user";
    var text = el("div", { class: "text" });
    renderText(text, message.text || "", message.citations || []);
    var item = el("li", { class: "msg " + (mine ? "me" : "bot") }, [
      el("span", { class: "sr", text: mine ? "You: " : "Assistant: " }),
      text,
      !mine && message.citations && message.citations.length ? sources(message.citations) : null,
      !mine && message.id ? feedback(message) : null
    ]);
    log.appendChild(item);
    scroll();
    return item;
  }

  function setTyping(on) {
    typing.textContent = "";
    if (on) {
      typing.appendChild(el("span", { class: "dots", "aria-hidden": "true" }, [el("span"), el("span"), el("span")]));
      typing.appendChild(el("span", { class: "sr", text: "The assistant is typing…" }));
    }
  }

  function showSuggestions(show) {
    chips.textContent = "";
    if (!show) {
      return;
    }
    (config.suggested_questions || []).forEach(function (question) {
      chips.appendChild(el("button", { type: "button", text: question, onclick: function () { ask(question); } }));
    });
  }

  // ------------------------------------------------------------------ conversation
  function remember() {
    ctx.save({ c: conversation.id, t: conversation.token, v: state.identity ? state.identity.id : "" });
  }

  function start() {
    if (conversation) {
      return Promise.resolve(conversation);
    }
    var saved = ctx.load();
    var body = {};
    if (state.identity) {
      body = { visitor: state.identity };
    } else if (saved && saved.t && !saved.v) {
      // the same anonymous visitor as before, in a new conversation
      body = { visitor_token: saved.t };
    }
    return ctx.request("POST", "/conversations", body).catch(function (error) {
      if (error.status === 401 && body.visitor_token) {
        return ctx.request("POST", "/conversations", {});
      }
      throw error;
    }).then(function (data) {
      conversation = { id: data.conversation.id, token: data.visitor_token };
      remember();
      return conversation;
    });
  }

  // A call on the conversation; a conversation that is gone (404), expired (401) or full (409)
  // is replaced by a new one, once.
  function onConversation(method, suffix, body) {
    function call(c) {
      var payload = body ? Object.assign({ visitor_token: c.token }, body) : undefined;
      return ctx.request(method, "/conversations/" + c.id + suffix, payload);
    }
    return start().then(function (c) {
      return call(c).catch(function (error) {
        if ([401, 404, 409].indexOf(error.status) < 0 || suffix.indexOf("/messages/") === 0) {
          throw error;
        }
        conversation = null;
        return start().then(call);
      });
    });
  }

  function ask(raw) {
    var text = (raw || "").trim();
    if (!text || busy || state.error) {
      return;
    }
    busy = true;
    send.disabled = true;
    input.value = "";
    grow();
    showError("");
    showSuggestions(false);
    var item = addMessage({ role: "user", text: text });
    ctx.emit({ role: "visitor", text: text, conversationId: conversation && conversation.id });
    setTyping(true);
    onConversation("POST", "/messages", { text: text }).then(function (data) {
      var answer = data.answer;
      addMessage(answer);
      ctx.emit({
        role: "assistant",
        text: answer.text,
        citations: answer.citations || [],
        abstained: !!answer.abstained,
        conversationId: conversation.id,
        messageId: answer.id
      });
    }, function (error) {
      item.classList.add("failed");
      item.appendChild(el("span", { class: "sr", text: " (not sent)" }));
      if (!input.value) {
        input.value = text;
      }
      showError(words(error), error.status === 0 ? "offline" : "error");
    }).then(function () {
      setTyping(false);
      busy = false;
      send.disabled = false;
    });
  }

  function rate(message, rating, buttons, thanks) {
    onConversation("POST", "/messages/" + message.id + "/feedback", { rating: rating }).then(function () {
      buttons.forEach(function (button, i) {
        button.setAttribute("aria-pressed", (i === 0) === (rating === "up") ? "true" : "false");
      });
      thanks.textContent = "Thanks for your feedback.";
    }, function (error) {
      showError(words(error), error.status === 0 ? "offline" : "error");
    });
  }

  function handoff() {
    handoffButton.disabled = true;
    onConversation("POST", "/handoff", {}).then(function () {
      handoffButton.textContent = "A person has been asked to join";
      note("We've asked someone from the team to follow up on this conversation.");
    }, function (error) {
      handoffButton.disabled = false;
      showError(words(error), error.status === 0 ? "offline" : "error");
    });
  }

  // ------------------------------------------------------------------ lead form
  function field(name, text, type, autocomplete) {
    var id = "lead-" + name;
    var control = type === "textarea"
      ? el("textarea", { id: id, name: name, rows: "2", maxlength: "1000" })
      : el("input", { id: id, name: name, type: type, autocomplete: autocomplete, maxlength: name === "email" ? "254" : "120" });
    return el("div", { class: "field" }, [
      el("label", { for: id, text: text }),
      control,
      el("span", { class: "err", id: id + "-err" })
    ]);
  }

  function buildLeadForm() {
    var form = el("form", { class: "lead", hidden: true, novalidate: true, "aria-labelledby": "lead-title", onsubmit: submitLead }, [
      el("h2", { id: "lead-title", text: "Leave your details and we'll get back to you" }),
      field("name", "Name", "text", "name"),
      field("email", "Email", "email", "email"),
      field("phone", "Phone", "tel", "tel"),
      field("note", "Message", "textarea"),
      el("p", { class: "hint", text: "An email address or a phone number is enough." }),
      el("div", { class: "row" }, [
        el("button", { type: "submit", class: "primary", text: "Send details" }),
        el("button", { type: "button", class: "link", text: "Cancel", onclick: toggleLead })
      ])
    ]);
    return form;
  }

  function toggleLead() {
    var opening = leadForm.hidden;
    leadForm.hidden = !opening;
    leadButton.setAttribute("aria-expanded", opening ? "true" : "false");
    (opening ? leadForm.elements.name : leadButton).focus();
  }

  function fieldError(name, text) {
    var control = leadForm.elements[name];
    control.setAttribute("aria-invalid", text ? "true" : "false");
    if (text) {
      control.setAttribute("aria-describedby", "lead-" + name + "-err");
    } else {
      control.removeAttribute("aria-describedby");
    }
    doc.getElementById("lead-" + name + "-err").textContent = text;
  }

  function submitLead(event) {
    event.preventDefault();
    var values = {};
    ["name", "email", "phone", "note"].forEach(function (name) {
      fieldError(name, "");
      var value = leadForm.elements[name].value.trim();
      if (value) {
        values[name] = value;
      }
    });
    if (!values.email && !values.phone) {
      fieldError("email", "Please give an email address or a phone number.");
      leadForm.elements.email.focus();
      return;
    }
    var submit = leadForm.querySelector("[type=submit]");
    submit.disabled = true;
    onConversation("POST", "/lead", values).then(function () {
      leadForm.hidden = true;
      leadForm.reset();
      leadButton.hidden = true;
      note("Thanks" + (values.name ? ", " + values.name : "") + "! We'll be in touch.");
      input.focus();
    }, function (error) {
      if (error.status === 422 && Array.isArray(error.details)) {
        error.details.forEach(function (detail) {
          var name = detail.loc && detail.loc[1];
          if (leadForm.elements[name]) {
            fieldError(name, "Please check this: " + (detail.msg || "invalid").replace(/^Value error, /, ""));
          } else {
            fieldError("email", "Please give an email address or a phone number.");
          }
        });
        return;
      }
      showError(words(error), error.status === 0 ? "offline" : "error");
    }).then(function () {
      submit.disabled = false;
    });
  }

  // ------------------------------------------------------------------ open, restore, reset
  function greet() {
    log.textContent = "";
    if (config.greeting) {
      addMessage({ role: "assistant", text: config.greeting });
    }
    showSuggestions(true);
  }

  function restore() {
    var saved = ctx.load();
    if (!saved || !saved.c || (state.identity ? saved.v !== state.identity.id : saved.v)) {
      return;
    }
    var path = "/conversations/" + saved.c + "?visitor_token=" + encodeURIComponent(saved.t);
    ctx.request("GET", path).then(function (data) {
      conversation = { id: saved.c, token: saved.t };
      data.messages.forEach(addMessage);
      if (data.messages.length) {
        showSuggestions(false);
      }
      if (data.conversation.handoff) {
        handoffButton.disabled = true;
        handoffButton.textContent = "A person has been asked to join";
      }
    }, function (error) {
      if (error.status === 401 || error.status === 404) {
        ctx.save({ t: saved.t, v: saved.v });
      } else {
        showError(words(error), error.status === 0 ? "offline" : "error");
      }
    });
  }

  function refuse(error) {
    // No config: nothing about the agent is shown, only why.
    showError(words(error), "config");
    input.disabled = true;
    send.disabled = true;
    actions.hidden = true;
  }

  if (state.error) {
    refuse(state.error);
  } else {
    greet();
  }
  ctx.attach({
    opened: function () {
      if (!restored) {
        restored = true;
        if (!state.error) {
          restore();
        }
      }
      if (input.disabled) {
        closeButton.focus();
      } else {
        input.focus();
      }
    },
    reset: function () {
      conversation = null;
      greet();
    }
  });
})();
