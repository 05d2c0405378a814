/*
 * The message list: visitor questions (as typed), answers and a person's replies (markdown),
 * notes (a lead was left, a person was asked for, joined, left), citations, timestamps and
 * feedback. Messages are keyed by id, so a message that arrives twice (the HTTP answer and a
 * push, a retry, a catch-up after a reconnect) is shown once.
 */
var shown = {};
// the newest message id shown (ids are time-ordered): where a catch-up starts
var lastSeen = "";

function seen(id, item) {
  shown[id] = item;
  if (id > lastSeen) {
    lastSeen = id;
  }
}

// Answers cite passages as [n]; several passages may come from one source. Each source is
// listed once (same link, else same document), numbered in order of appearance, and every [n]
// of the text points at its source's number. Tolerates both citation shapes the API has had:
// {index, title, source_url, file_name, heading_path, page} and {..., url, snippet, heading}.
function sourcesOf(citations) {
  var list = [];
  var byKey = {};
  var byIndex = {};
  (citations || []).forEach(function (c, position) {
    var url = safeUrl(c.link || c.url || c.source_url || "");
    var key = url || c.document_id || c.title || c.file_name || "#" + position;
    var source = byKey[key];
    if (!source) {
      source = byKey[key] = {
        n: list.length + 1,
        url: url,
        title: c.title || c.file_name || "",
        file: c.file_name && c.file_name !== c.title ? c.file_name : "",
        heading: c.heading || (c.heading_path || []).slice(-1)[0] || "",
        pages: [],
        snippet: ""
      };
      list.push(source);
    }
    if (c.page && source.pages.indexOf(c.page) < 0) {
      source.pages.push(c.page);
    }
    source.snippet = source.snippet || String(c.snippet || c.quote || "").trim();
    byIndex[c.index === undefined ? position + 1 : c.index] = source;
  });
  return { list: list, at: function (n) { return byIndex[n] || null; } };
}

function clip(text, limit) {
  if (text.length <= limit) {
    return text;
  }
  var cut = text.slice(0, limit);
  return cut.slice(0, Math.max(cut.lastIndexOf(" "), limit - 20)) + "…";
}

function sourceList(sources) {
  return el("div", { class: "src" }, [
    el("p", { text: t("sources") }),
    el("ol", {}, sources.list.map(function (s) {
      var name = s.title || t("source", { n: s.n });
      var where = [s.file, s.heading, s.pages.length ? t("page", { n: s.pages.join(", ") }) : ""]
        .filter(Boolean).join(" · ");
      return el("li", { value: String(s.n) }, [
        s.url ? link(s.url, name) : el("span", { class: "name", text: name }),
        where ? el("span", { class: "where", text: where }) : null,
        s.snippet ? el("q", { class: "snip", text: clip(s.snippet, 220) }) : null
      ]);
    }))
  ]);
}

function citeMarker(sources) {
  return function (n) {
    var s = sources.at(n);
    if (!s) {
      return null;
    }
    var label = t("source", { n: s.n }) + (s.title ? ": " + s.title : "");
    var mark = s.url
      ? el("a", { href: s.url, target: "_blank", rel: "noopener noreferrer nofollow", "aria-label": label, text: "[" + s.n + "]" })
      : el("span", { "aria-label": label, text: "[" + s.n + "]" });
    return el("sup", {}, [mark]);
  };
}

// ------------------------------------------------------------------ time
var clock = new Intl.DateTimeFormat(state.locale, { hour: "numeric", minute: "2-digit" });
var dated = new Intl.DateTimeFormat(state.locale, { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });

function stamp(iso) {
  var when = new Date(iso || Date.now());
  if (isNaN(when.getTime())) {
    when = new Date();
  }
  var today = when.toDateString() === new Date().toDateString();
  return el("time", { class: "at", datetime: when.toISOString(), text: (today ? clock : dated).format(when) });
}

// ------------------------------------------------------------------ feedback
function feedback(message) {
  var thanks = el("span", { class: "thanks", "aria-live": "polite" });
  var buttons = [["up", "helpful", ""], ["down", "unhelpful", "down"]].map(function (choice) {
    return el("button", {
      type: "button",
      "aria-label": t(choice[1]),
      "aria-pressed": message.feedback && message.feedback.rating === choice[0] ? "true" : "false",
      onclick: function () { rate(message, choice[0], buttons, thanks); }
    }, [icon(THUMB, choice[2])]);
  });
  return el("div", { class: "fb", role: "group", "aria-label": t("rate") }, buttons.concat([thanks]));
}

// ------------------------------------------------------------------ the list
function scroll() {
  log.scrollTop = log.scrollHeight;
}

function note(text, id, at) {
  if (id && shown[id]) {
    return shown[id];
  }
  var item = el("li", { class: "note" }, [el("span", { text: text }), at ? stamp(at) : null]);
  if (id) {
    seen(id, item);
  }
  log.appendChild(item);
  scroll();
  return item;
}

// What a person's name looks like in the chat ("Dana", or "Someone from the team").
function person(message) {
  return message.author || t("team");
}

function addMessage(message, options) {
  if (message.id && shown[message.id]) {
    return shown[message.id];
  }
  if (message.role === "system") {
    return systemNote(message);
  }
  var mine = message.role === "user";
  var operator = message.role === "operator";
  var text = el("div", { class: "text" });
  var sources = sourcesOf(message.citations);
  if (mine) {
    text.textContent = message.text || "";
  } else {
    markdown(text, message.text || "", citeMarker(sources));
  }
  var who = mine ? t("you") : operator ? person(message) : t("assistant");
  var item = el("li", { class: "msg " + (mine ? "me" : operator ? "bot op" : "bot") }, [
    operator ? el("span", { class: "by", "aria-hidden": "true", text: person(message) }) : null,
    el("span", { class: "sr", text: who + ": " }),
    text,
    sources.list.length ? sourceList(sources) : null,
    !mine && !operator && message.id ? feedback(message) : null,
    options && options.untimed ? null : stamp(message.created_at)
  ]);
  if (message.status === "failed") {
    failed(item);
  }
  if (message.id) {
    seen(message.id, item);
  }
  log.appendChild(item);
  scroll();
  return item;
}

function failed(item) {
  item.classList.add("failed");
  item.appendChild(el("span", { class: "sr not-sent", text: t("notSent") }));
}

function setTyping(on) {
  typing.textContent = "";
  if (on) {
    typing.appendChild(el("span", { class: "dots", "aria-hidden": "true" }, [el("span"), el("span"), el("span")]));
    typing.appendChild(el("span", { class: "sr", text: t("typing") }));
  }
}
