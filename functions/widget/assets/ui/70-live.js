/*
 * A person in the conversation. The visitor asks for one (the handoff tool); someone from the
 * team replies through the API and the reply appears here; while a person holds the
 * conversation the assistant stays quiet; if nobody answers in time, the visitor is asked for
 * an email (the transcript goes to the team).
 *
 * While a handoff is open the chat listens on the conversation's WebSocket (API Gateway
 * WebSocket API: the server pushes a person's replies and the handoff's changes); where a
 * WebSocket cannot connect it polls the conversation instead. No handoff, no connection.
 */
var OPEN = { requested: 1, held: 1, timed_out: 1 };
var POLL_MS = 1500;
var PING_MS = 5 * 60 * 1000;

tool("handoff", "handoffAction", function () { requestHandoff(); });

function systemNote(message) {
  var name = message.author || t("team");
  var texts = {
    handoff_requested: t("handoffAsked"),
    operator_joined: t("joined", { name: name }),
    handoff_released: t("released", { name: name }),
    handoff_timed_out: t("timedOut"),
    lead_captured: leadThanks(message.author)
  };
  return note(texts[message.kind] || message.text || "", message.id, message.created_at);
}

function requestHandoff() {
  var button = toolButton("handoff");
  button.disabled = true;
  onConversation("POST", "/handoff", {}).then(function (data) {
    if (data.message) {
      addMessage(data.message);
    }
    live.update(data.conversation.handoff_state || { status: "requested" });
  }, function (error) {
    button.disabled = false;
    showError(words(error), error);
  });
}

var live = {
  status: null,
  operator: "",
  socket: null,
  failures: 0,
  timer: null,
  ping: null,

  holding: function () {
    return live.status === "held";
  },

  // handoff: the conversation's handoff_state ({status, operator, ...}) or null; restoring:
  // shown after a reload (no step pops up for an old timeout the visitor already answered)
  update: function (handoff, restoring) {
    var before = live.status;
    live.status = handoff ? handoff.status : null;
    live.operator = (handoff && handoff.operator) || "";
    var button = toolButton("handoff");
    var open = !!OPEN[live.status];
    if (button) {
      button.disabled = open;
      button.textContent = t(open ? "handoffAsked" : "handoffAction");
    }
    input.placeholder = live.status === "held" ? t("toPerson", { name: live.operator || t("team") }) : t("placeholder");
    if (live.status === "timed_out" && before !== "timed_out" && !leadSent && (!restoring || !stepOpen("lead"))) {
      openLead({ title: t("timeoutTitle"), intro: t("timedOut"), emailFirst: true });
    }
    if (open) {
      live.follow();
    } else {
      live.stop();
    }
  },

  receive: function (data) {
    (data.messages || []).forEach(function (message) {
      if (shown[message.id]) {
        return;
      }
      addMessage(message);
      if (message.role === "operator") {
        ctx.emit({ role: "operator", text: message.text, author: message.author || "", conversationId: conversation && conversation.id, messageId: message.id });
      }
    });
    if (data.handoff_state !== undefined) {
      live.update(data.handoff_state);
    }
  },

  follow: function () {
    if (live.socket || live.timer || !conversation) {
      return;
    }
    var url = conversation.realtime && conversation.realtime.url;
    if (url && live.failures < 3 && window.WebSocket) {
      live.connect(url);
    } else {
      live.poll();
    }
  },

  connect: function (url) {
    var socket = live.socket = ctx.connect(url, { action: "subscribe", conversation_id: conversation.id, visitor_token: conversation.token });
    var opened = false;
    socket.addEventListener("open", function () {
      opened = true;
      live.failures = 0;
      live.ping = setInterval(function () { socket.send(JSON.stringify({ action: "ping" })); }, PING_MS);
    });
    socket.onmessage = function (event) {
      var data;
      try {
        data = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (data.type === "subscribed") {
        // what was said before the subscription took
        live.catchUp();
      } else {
        live.receive(data);
      }
    };
    socket.onclose = function () {
      clearInterval(live.ping);
      if (live.socket !== socket) {
        return;
      }
      live.socket = null;
      live.failures += opened ? 0 : 1;
      if (OPEN[live.status]) {
        live.timer = setTimeout(function () {
          live.timer = null;
          live.follow();
        }, opened ? 1000 : 1000 * Math.pow(2, live.failures));
      }
    };
  },

  catchUp: function () {
    if (!conversation) {
      return Promise.resolve();
    }
    var path = "/conversations/" + conversation.id + "?visitor_token=" + encodeURIComponent(conversation.token) +
      (lastSeen ? "&after=" + encodeURIComponent(lastSeen) : "");
    return ctx.request("GET", path).then(function (data) {
      live.receive({ messages: data.messages, handoff_state: data.conversation.handoff_state || null });
    }, function () {});
  },

  poll: function () {
    live.timer = setTimeout(function () {
      live.catchUp().then(function () {
        live.timer = null;
        if (OPEN[live.status] && !live.socket) {
          live.poll();
        }
      });
    }, POLL_MS);
  },

  stop: function () {
    clearTimeout(live.timer);
    clearInterval(live.ping);
    live.timer = null;
    var socket = live.socket;
    live.socket = null;
    if (socket) {
      socket.close();
    }
  }
};
