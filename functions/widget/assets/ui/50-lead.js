/*
 * The lead form, as a step. Also what the visitor sees when nobody from the team answered in
 * time: the same form, asking for an email first (70-live.js).
 */
var leadSent = false;

tool("lead_capture", "leadAction", function () { openLead(); });

// prefix: the ids' prefix ("lead-" unless another step's form: "book-")
function field(name, labelKey, type, autocomplete, prefix) {
  var id = (prefix || "lead-") + name;
  var control = type === "textarea"
    ? el("textarea", { id: id, name: name, rows: "2", maxlength: "1000" })
    : el("input", { id: id, name: name, type: type, autocomplete: autocomplete, maxlength: name === "email" ? "254" : name === "phone" ? "32" : "120" });
  return el("div", { class: "field f-" + name }, [
    el("label", { for: id, text: t(labelKey) }),
    control,
    el("span", { class: "err", id: id + "-err" })
  ]);
}

// options.title: the step's title; options.intro: a line above the fields
function openLead(options) {
  options = options || {};
  var form = el("form", { class: "lead", novalidate: true, "aria-labelledby": "step-title" }, [
    options.intro ? el("p", { class: "hint", text: options.intro }) : null,
    field("name", "name", "text", "name"),
    el("div", { class: "pair" }, [field("email", "email", "email", "email"), field("phone", "phone", "tel", "tel")]),
    field("note", "note", "textarea"),
    el("p", { class: "hint", text: t("leadHint") }),
    el("div", { class: "row" }, [el("button", { type: "submit", class: "primary", text: t("leadSubmit") })])
  ]);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    submitLead(form);
  });
  var button = toolButton("lead_capture");
  if (button) {
    button.setAttribute("aria-expanded", "true");
  }
  showStep({
    name: "lead",
    title: options.title || t("leadTitle"),
    body: form,
    onClose: function () {
      if (button) {
        button.setAttribute("aria-expanded", "false");
      }
    }
  });
  if (options.emailFirst) {
    form.elements.email.focus();
  }
}

function fieldError(form, name, text, prefix) {
  var id = (prefix || "lead-") + name + "-err";
  var control = form.elements[name];
  control.setAttribute("aria-invalid", text ? "true" : "false");
  if (text) {
    control.setAttribute("aria-describedby", id);
  } else {
    control.removeAttribute("aria-describedby");
  }
  doc.getElementById(id).textContent = text;
}

function submitLead(form) {
  var values = {};
  ["name", "email", "phone", "note"].forEach(function (name) {
    fieldError(form, name, "");
    var value = form.elements[name].value.trim();
    if (value) {
      values[name] = value;
    }
  });
  if (!values.email && !values.phone) {
    fieldError(form, "email", t("leadNeed"));
    form.elements.email.focus();
    return;
  }
  var submit = form.querySelector("[type=submit]");
  submit.disabled = true;
  onConversation("POST", "/lead", values).then(function (data) {
    closeStep();
    leadDone();
    if (data && data.message) {
      addMessage(data.message);
    } else {
      note(leadThanks(values.name));
    }
  }, function (error) {
    submit.disabled = false;
    if (error.status === 422 && Array.isArray(error.details)) {
      error.details.forEach(function (detail) {
        var name = detail.loc && detail.loc[1];
        var known = name === "email" || name === "phone";
        fieldError(form, known ? name : "email", known ? t(name === "email" ? "badEmail" : "badPhone") : t("leadNeed"));
      });
      return;
    }
    showError(words(error), error);
  });
}

function leadThanks(name) {
  return name ? t("leadThanksName", { name: name }) : t("leadThanks");
}

function leadDone() {
  leadSent = true;
  var button = toolButton("lead_capture");
  if (button) {
    button.hidden = true;
  }
}
