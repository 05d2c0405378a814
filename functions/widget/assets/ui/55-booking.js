/*
 * Booking in the conversation, as a step: the agent's event types -> open times over days in
 * the visitor's time zone -> name and email -> the booking (with an Idempotency-Key, so a
 * retried request books once) -> a confirmation in the conversation with an add-to-calendar
 * link (the booking's manage link, format=ics). A priced event type is held, not booked: the
 * pay step opens Stripe's hosted Checkout in a new tab and polls the payment until the booking
 * is confirmed, the hold ran out or the payment failed (see docs/widget.md for why hosted
 * Checkout). A time taken meanwhile (409) shows fresh times and says so.
 *
 * Entered from an answer that carries a booking offer (`actions`: the visitor asked to book),
 * or from the "Book" action when the agent's public config enables the tool "booking".
 */
var ZONE = "UTC";
try {
  ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
} catch (e) {
  // an old engine without time zones: times in UTC, and the step says so
}
var DAYS_SHOWN = 7;
var PAY_POLL_MS = 2000;
// {types, type, from, day, key, body, poll}: the booking under way (one at a time)
var booking = null;

tool("booking", "bookAction", function () { openBooking(); });

function zoned(options, value) {
  return new Intl.DateTimeFormat(state.locale, Object.assign({ timeZone: ZONE }, options)).format(new Date(value));
}

function slotWhen(value) {
  return zoned({ weekday: "short", day: "numeric", month: "short", hour: "numeric", minute: "2-digit" }, value);
}

function clockTime(value) {
  return zoned({ hour: "numeric", minute: "2-digit" }, value);
}

// the visitor's calendar date of an instant, YYYY-MM-DD
function localDay(value) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(value));
}

function addDays(day, n) {
  var date = new Date(day + "T12:00:00Z");
  date.setUTCDate(date.getUTCDate() + n);
  return date.toISOString().slice(0, 10);
}

function money(price) {
  var format = new Intl.NumberFormat(state.locale, { style: "currency", currency: price.currency.toUpperCase() });
  return format.format(price.amount_minor / Math.pow(10, format.resolvedOptions().maximumFractionDigits));
}

function newKey() {
  return window.crypto && crypto.randomUUID ? crypto.randomUUID() : Date.now().toString(36) + Math.random().toString(36).slice(2);
}

function stopPolling() {
  if (booking && booking.poll) {
    clearTimeout(booking.poll);
    booking.poll = null;
  }
}

function bookingStep(title, body) {
  showStep({ name: "booking", title: title, body: body, onClose: stopPolling });
}

// offer: an `actions` entry {type: "booking", event_types: [...]} (types and next times), or
// nothing (the action under the question field: the types are read from the API)
function openBooking(offer) {
  booking = { types: offer ? offer.event_types : null, from: localDay(Date.now()) };
  if (booking.types) {
    chooseType();
    return;
  }
  var status = el("p", { class: "hint", role: "status", text: t("bookLoading") });
  bookingStep(t("bookTitle"), el("div", { class: "booking" }, [status]));
  ctx.request("GET", "/event-types").then(function (data) {
    if (booking && stepOpen("booking")) {
      booking.types = data.items || [];
      chooseType();
    }
  }, function (error) {
    status.textContent = words(error);
  });
}

function typeFacts(type) {
  return [t("bookMinutes", { n: type.duration_minutes }), type.price ? money(type.price) : t("bookFree")].join(" · ");
}

function chooseType() {
  var types = booking.types;
  if (types.length === 1) {
    pickTime(types[0]);
    return;
  }
  var list = el("div", { class: "booking", role: "group", "aria-labelledby": "step-title" }, types.length ? types.map(function (type) {
    return el("button", { type: "button", class: "etype", onclick: function () { pickTime(type); } }, [
      el("span", { class: "name", text: type.name }),
      el("small", { text: typeFacts(type) })
    ]);
  }) : [el("p", { class: "hint", text: t("bookNone") })]);
  bookingStep(t("bookChoose"), list);
}

// The open times of `type`, DAYS_SHOWN days at a time from booking.from, one day shown at a
// time (the days without a time are left out). problem: why the visitor is here again (a time
// taken meanwhile, a hold that ran out), said first and read out.
function pickTime(type, problem) {
  booking.type = type;
  booking.key = null;
  var next = (type.next_slots || [])[0];
  var today = localDay(Date.now());
  if (next && !problem && booking.from === today) {
    // start at the first open day the agent's offer named
    booking.from = localDay(next.start_utc);
  }
  if (booking.from < today) {
    booking.from = today;
  }
  var alert = el("p", { class: "err", role: "alert", text: problem || "" });
  var status = el("p", { class: "hint", role: "status" });
  var days = el("div", { class: "days", role: "group", "aria-label": t("bookDays") });
  var times = el("div", { class: "times", role: "group" });
  var earlier = el("button", { type: "button", class: "icon back", "aria-label": t("bookEarlier"), onclick: function () { move(-DAYS_SHOWN); } }, [icon(BACK)]);
  var later = el("button", { type: "button", class: "icon fwd", "aria-label": t("bookLater"), onclick: function () { move(DAYS_SHOWN); } }, [icon(BACK)]);
  var body = el("div", { class: "booking" }, [
    alert,
    el("p", { class: "hint", text: typeFacts(type) }),
    el("div", { class: "week" }, [earlier, days, later]),
    times,
    status,
    el("p", { class: "hint", text: t("bookZone", { zone: ZONE }) })
  ]);
  bookingStep(type.name, body);

  function move(n) {
    booking.from = addDays(booking.from, n);
    load();
  }

  function showDay(day, byDay, button) {
    booking.day = day;
    Array.prototype.forEach.call(days.children, function (other) {
      other.setAttribute("aria-pressed", other === button ? "true" : "false");
    });
    times.textContent = "";
    times.setAttribute("aria-label", t("bookTimes", { day: zoned({ weekday: "long", day: "numeric", month: "long" }, byDay[day][0].start_utc) }));
    byDay[day].forEach(function (slot) {
      times.appendChild(el("button", { type: "button", class: "slot", "aria-label": slotWhen(slot.start_utc), text: clockTime(slot.start_utc), onclick: function () { askDetails(slot); } }));
    });
  }

  function load() {
    var to = addDays(booking.from, DAYS_SHOWN - 1);
    earlier.disabled = booking.from <= today;
    days.textContent = "";
    times.textContent = "";
    status.textContent = t("bookLoading");
    var path = "/event-types/" + encodeURIComponent(type.id) + "/slots?from=" + booking.from + "&to=" + to + "&time_zone=" + encodeURIComponent(ZONE);
    ctx.request("GET", path).then(function (data) {
      var byDay = {};
      var order = [];
      (data.slots || []).forEach(function (slot) {
        // `start` is in the visitor's zone with its offset: its date is the visitor's date
        var day = slot.start.slice(0, 10);
        if (!byDay[day]) {
          byDay[day] = [];
          order.push(day);
        }
        byDay[day].push(slot);
      });
      status.textContent = order.length ? "" : t("bookNone");
      var chosen = null;
      order.forEach(function (day) {
        var first = byDay[day][0].start_utc;
        var button = el("button", { type: "button", class: "day", "aria-pressed": "false", "aria-label": zoned({ weekday: "long", day: "numeric", month: "long" }, first), onclick: function () { showDay(day, byDay, button); } }, [
          el("span", { text: zoned({ weekday: "short" }, first) }),
          el("b", { text: zoned({ day: "numeric" }, first) })
        ]);
        days.appendChild(button);
        if (!chosen || day === booking.day) {
          chosen = { day: day, button: button };
        }
      });
      if (chosen) {
        showDay(chosen.day, byDay, chosen.button);
      }
    }, function (error) {
      status.textContent = words(error);
    });
  }

  load();
}

function askDetails(slot) {
  var type = booking.type;
  var submit = el("button", { type: "submit", class: "primary", text: t(type.price ? "bookHold" : "bookSubmit", { when: slotWhen(slot.start_utc) }) });
  var problem = el("p", { class: "err", role: "alert" });
  var form = el("form", { class: "lead", novalidate: true, "aria-labelledby": "step-title" }, [
    el("p", { class: "hint", text: type.name + " · " + slotWhen(slot.start_utc) + (type.price ? " · " + money(type.price) : "") }),
    el("div", { class: "pair" }, [field("name", "name", "text", "name", "book-"), field("email", "email", "email", "email", "book-")]),
    problem,
    el("div", { class: "row" }, [
      submit,
      el("button", { type: "button", class: "link", text: t("bookAgain"), onclick: function () { pickTime(type); } })
    ])
  ]);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    book(form, slot, submit, problem);
  });
  bookingStep(type.name, form);
}

function book(form, slot, submit, problem) {
  var type = booking.type;
  var name = form.elements.name.value.trim();
  var email = form.elements.email.value.trim();
  fieldError(form, "name", name ? "" : t("bookName"), "book-");
  fieldError(form, "email", /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) ? "" : t("badEmail"), "book-");
  var wrong = form.querySelector("[aria-invalid=true]");
  if (wrong) {
    wrong.focus();
    return;
  }
  var body = { event_type_id: type.id, start: slot.start, name: name, email: email, time_zone: ZONE };
  if (conversation) {
    body.conversation_id = conversation.id;
  }
  // The same booking sent again (a retry after a lost answer) carries the same key: booked once
  var text = JSON.stringify(body);
  if (booking.body !== text) {
    booking.body = text;
    booking.key = newKey();
  }
  submit.disabled = true;
  problem.textContent = "";
  ctx.request("POST", "/bookings", body, { "Idempotency-Key": booking.key }).then(function (made) {
    if (made.status === "held") {
      pay(made);
    } else {
      booked(made);
    }
  }, function (error) {
    submit.disabled = false;
    if (error.status === 409) {
      pickTime(type, t(error.code === "booking_limit_reached" ? "bookLimit" : "bookTaken"));
    } else if (error.status === 422 && error.code === "invalid_start") {
      pickTime(type, t("bookTaken"));
    } else if (error.status === 422 && JSON.stringify(error.details || "").indexOf("email") >= 0) {
      fieldError(form, "email", t("badEmail"), "book-");
      form.elements.email.focus();
    } else {
      problem.textContent = words(error);
    }
  });
}

// Booked (free, or paid and confirmed by the payment): said in the conversation, with the
// add-to-calendar link, and the question field is back.
function booked(made) {
  var type = booking.type;
  stopPolling();
  closeStep();
  booking = null;
  var item = note(t("bookDone", { what: type.name, when: slotWhen(made.start) }));
  var ics = ctx.api + "/v1/public/bookings/manage?token=" + encodeURIComponent(made.manage_token) + "&format=ics";
  item.appendChild(el("a", { class: "cal", href: ics, target: "_blank", rel: "noopener", download: made.id + ".ics", text: t("bookCalendar") }));
}

// A held booking: Stripe's hosted Checkout in a new tab, and the payment read every 2 s until
// the webhook confirmed the booking (or the hold ran out, or the payment failed).
function pay(made) {
  var type = booking.type;
  var amount = money(made.price);
  var status = el("p", { class: "hint", role: "status", text: t("payWaiting") });
  var box = el("div", { class: "booking" }, [
    el("p", { text: t("payHeld", { when: slotWhen(made.start), until: clockTime(made.hold_expires_at), amount: amount }) }),
    status
  ]);
  bookingStep(t("payTitle"), box);
  ctx.request("POST", "/bookings/" + encodeURIComponent(made.id) + "/checkout").then(function (payment) {
    if (!stepOpen("booking")) {
      return;
    }
    var button = el("a", { class: "primary", href: payment.checkout_url, target: "_blank", rel: "noopener", text: t("payButton", { amount: amount }), onclick: function () { status.textContent = t("payOpened"); } });
    box.insertBefore(button, status);
    button.focus();
    watch(payment.payment_id, made, status);
  }, function (error) {
    if (error.status === 409) {
      pickTime(type, t("payExpired"));
    } else {
      status.textContent = words(error);
    }
  });
}

function watch(paymentId, made, status) {
  var type = booking.type;
  function again(ms) {
    if (booking && stepOpen("booking")) {
      booking.poll = setTimeout(tick, ms);
    }
  }
  function tick() {
    ctx.request("GET", "/payments/" + encodeURIComponent(paymentId)).then(function (payment) {
      if (!booking || !stepOpen("booking")) {
        return;
      }
      var outcome = payment.booking_outcome;
      if (outcome === "confirmed") {
        booked(made);
      } else if (outcome === "refunded_slot_taken") {
        // paid after the hold ended and the time was taken: refunded, and the visitor told
        closeStep();
        booking = null;
        note(t("payLate"));
      } else if (outcome === "released" || payment.status === "expired") {
        pickTime(type, t("payExpired"));
      } else if (payment.status === "failed") {
        status.textContent = t("payFailed");
        status.parentNode.appendChild(el("button", { type: "button", class: "link", text: t("bookAgain"), onclick: function () { pickTime(type); } }));
      } else {
        again(PAY_POLL_MS);
      }
    }, function () {
      again(PAY_POLL_MS * 2);
    });
  }
  again(PAY_POLL_MS);
}

function offered(actions) {
  return (actions || []).filter(function (action) {
    return action.type === "booking" && (action.event_types || []).length;
  });
}

// An answer that could not say more than "I don't know" to a wish to book: in the widget it
// says what the step offers instead (the transcript keeps the agent's words).
function withOffer(answer, actions) {
  if (!answer.abstained || !offered(actions).length) {
    return answer;
  }
  return Object.assign({}, answer, { text: t("bookIntro"), citations: [] });
}

// An answer that carries a booking offer: the step opens, and the answer keeps a button to
// open it again.
function offerBooking(actions, item) {
  offered(actions).forEach(function (action) {
    item.appendChild(el("button", { type: "button", class: "link offer", text: t("bookOffer"), onclick: function () { openBooking(action); } }));
    openBooking(action);
  });
}
