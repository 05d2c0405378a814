/*
 * The conversation with the API: start it (anonymous, the same visitor again, or a signed-in
 * customer), ask, rate, restore it after a reload, start a new one. Errors are told in words.
 */
var conversation = null;
var busy = false;
var waitTimer = null;
// the visitor's last question that could not be sent: asked again, it is the same message
var unsent = null;

function words(error) {
  var status = error.status;
  if (status === 429) {
    return error.retryAfter ? t("rateWait", { seconds: error.retryAfter }) : t("rateMinute");
  }
  var known = { 0: "offline", 401: "identity", 403: "refused", 413: "tooLong", 503: "busy" };
  return t(known[status] || "generic");
}

function showError(text, error) {
  banner.textContent = text;
  banner.setAttribute("data-kind", text ? (error && error.status === 0 ? "offline" : "error") : "");
}

function grow() {
  input.style.height = "auto";
  if (input.scrollHeight) {
    input.style.height = Math.min(input.scrollHeight + 2, 120) + "px";
  }
}

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
    conversation = { id: data.conversation.id, token: data.visitor_token, realtime: data.realtime };
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

function wait(seconds) {
  clearTimeout(waitTimer);
  send.disabled = true;
  waitTimer = setTimeout(function () {
    waitTimer = null;
    send.disabled = busy;
    showError("");
  }, seconds * 1000);
}

function ask(raw) {
  var text = (raw || "").trim();
  if (!text || busy || waitTimer || state.error) {
    return;
  }
  busy = true;
  send.disabled = true;
  input.value = "";
  grow();
  showError("");
  showSuggestions(false);
  var item;
  if (unsent && unsent.text === text && unsent.item.parentNode) {
    item = unsent.item;
    item.classList.remove("failed");
    var mark = item.querySelector(".not-sent");
    if (mark) {
      item.removeChild(mark);
    }
  } else {
    item = addMessage({ role: "user", text: text, created_at: nowIso() });
  }
  unsent = null;
  ctx.emit({ role: "visitor", text: text, conversationId: conversation && conversation.id });
  var held = live.holding();
  setTyping(!held);
  var body = { text: text };
  if (state.context) {
    body.context = state.context;
  }
  onConversation("POST", "/messages", body).then(function (data) {
    if (data.question && data.question.id) {
      seen(data.question.id, item);
    }
    live.update(data.handoff_state);
    var answer = data.answer;
    if (!answer) {
      return;
    }
    offerBooking(data.actions, addMessage(withOffer(answer, data.actions)));
    ctx.emit({
      role: "assistant",
      text: answer.text,
      citations: answer.citations || [],
      abstained: !!answer.abstained,
      conversationId: conversation.id,
      messageId: answer.id
    });
  }, function (error) {
    failed(item);
    unsent = { text: text, item: item };
    if (!input.value) {
      input.value = text;
    }
    grow();
    showError(words(error), error);
    if (error.status === 429) {
      wait(error.retryAfter || 60);
    }
  }).then(function () {
    setTyping(false);
    busy = false;
    send.disabled = !!waitTimer;
  });
}

function rate(message, rating, buttons, thanks) {
  onConversation("POST", "/messages/" + message.id + "/feedback", { rating: rating }).then(function () {
    buttons.forEach(function (button, i) {
      button.setAttribute("aria-pressed", (i === 0) === (rating === "up") ? "true" : "false");
    });
    thanks.textContent = t("thanks");
  }, function (error) {
    showError(words(error), error);
  });
}

// ------------------------------------------------------------------ open, restore, new
function greet() {
  log.textContent = "";
  shown = {};
  lastSeen = "";
  if (config.greeting) {
    addMessage({ role: "assistant", text: config.greeting }, { untimed: true });
  }
  showSuggestions(true);
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

// A question the provider failed to answer stays in the conversation (status "failed"); when
// the visitor asked it again, it is shown once.
function retried(messages, at) {
  var message = messages[at];
  if (message.role !== "user" || message.status !== "failed") {
    return false;
  }
  for (var i = at + 1; i < messages.length; i++) {
    if (messages[i].role === "user" && messages[i].text === message.text) {
      return true;
    }
  }
  return false;
}

function show(data) {
  data.messages.forEach(function (message, i) {
    if (!retried(data.messages, i)) {
      addMessage(message);
    }
  });
  if (data.messages.length) {
    showSuggestions(false);
  }
  var lead = data.conversation.lead;
  if (lead) {
    leadDone();
  }
  live.update(data.conversation.handoff_state, true);
}

function restore() {
  var saved = ctx.load();
  if (!saved || !saved.c || (state.identity ? saved.v !== state.identity.id : saved.v)) {
    return;
  }
  var path = "/conversations/" + saved.c + "?visitor_token=" + encodeURIComponent(saved.t);
  ctx.request("GET", path).then(function (data) {
    conversation = { id: saved.c, token: saved.t, realtime: data.realtime };
    show(data);
  }, function (error) {
    if (error.status === 401 || error.status === 404) {
      ctx.save({ t: saved.t, v: saved.v });
    } else {
      showError(words(error), error);
    }
  });
}

// The visitor starts over: the old conversation stays with the tenant, this chat forgets it.
function newConversation() {
  var saved = ctx.load() || {};
  live.update(null);
  closeStep(true);
  conversation = null;
  unsent = null;
  ctx.save(saved.t ? { t: saved.t, v: saved.v } : null);
  leadSent = false;
  var button = toolButton("lead_capture");
  if (button) {
    button.hidden = false;
  }
  showError("");
  greet();
  input.value = "";
  grow();
  input.focus();
}
