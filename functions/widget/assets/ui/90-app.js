/*
 * The layout, and the start: header, error banner, message list, typing indicator, the dock
 * (suggestions, question field, actions: what a step replaces) and the step panel.
 */
var root = doc.documentElement;
root.lang = state.locale;
root.dir = state.dir;
root.style.setProperty("--c", theme.color);
root.style.setProperty("--f", theme.fg);
var darkQuery = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)");
// The page's viewport, not the chat's (always narrow): a phone, or any touch screen.
var touchQuery = frame.ownerDocument.defaultView.matchMedia("(pointer: coarse), (max-width: 480px)");

function applyTouch() {
  root.classList.toggle("touch", touchQuery.matches);
}
applyTouch();
if (touchQuery.addEventListener) {
  touchQuery.addEventListener("change", applyTouch);
}

function applyScheme() {
  root.classList.toggle("dark", theme.mode === "dark" || (theme.mode !== "light" && !!darkQuery && darkQuery.matches));
}
applyScheme();
if (darkQuery && darkQuery.addEventListener) {
  darkQuery.addEventListener("change", applyScheme);
}

var closeButton = el("button", { class: "icon", type: "button", "aria-label": t("close"), onclick: ctx.close }, [icon(CLOSE)]);
var newButton = el("button", { class: "icon", type: "button", "aria-label": t("newChat"), title: t("newChat"), onclick: function () { newConversation(); } }, [icon(NEW)]);
var banner = el("div", { class: "banner", role: "alert" });
var log = el("ol", { class: "log", role: "log", "aria-live": "polite", "aria-label": t("log") });
var typing = el("div", { class: "typing", role: "status", "aria-live": "polite" });
var chips = el("div", { class: "chips", role: "group", "aria-label": t("suggested") });
var input = el("textarea", { id: "q", rows: "1", maxlength: "2000", placeholder: t("placeholder"), autocomplete: "off" });
var send = el("button", { class: "send", type: "submit", "aria-label": t("send") }, [icon(SEND)]);
var askForm = el("form", { class: "ask", onsubmit: function (event) {
  event.preventDefault();
  ask(input.value);
} }, [el("label", { class: "sr", for: "q", text: t("question") }), input, send]);
var actions = el("div", { class: "actions" });
var dock = el("div", { class: "dock" }, [chips, askForm, actions]);
var stepBox = el("section", { class: "step", hidden: true, "aria-labelledby": "step-title" });
buildActions();
doc.body.appendChild(el("main", { class: "app", "aria-labelledby": "title" }, [
  el("header", {}, [
    theme.avatar ? el("img", { src: theme.avatar, alt: "", width: "32", height: "32" }) : null,
    el("h1", { id: "title", text: theme.title }),
    state.error ? null : newButton,
    closeButton
  ]),
  banner,
  log,
  typing,
  dock,
  stepBox
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
    if (currentStep) {
      closeStep();
    } else {
      ctx.close();
    }
  }
});
window.addEventListener("offline", function () { showError(words({ status: 0 }), { status: 0 }); });
window.addEventListener("online", function () {
  if (banner.getAttribute("data-kind") === "offline") {
    showError("");
  }
});

var restored = false;
if (state.error) {
  // No config: nothing about the agent is shown, only why.
  showError(words(state.error), state.error);
  input.disabled = true;
  send.disabled = true;
  actions.hidden = true;
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
    } else if (!currentStep) {
      input.focus();
    }
    // measured now that the chat is on screen (a hidden textarea has no height)
    grow();
    scroll();
  },
  prefill: function (text) {
    if (input.disabled) {
      return;
    }
    closeStep(true);
    input.value = text;
    grow();
    input.focus();
  },
  reset: function () {
    newConversation();
  }
});
