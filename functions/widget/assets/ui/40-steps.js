/*
 * Steps and tools.
 *
 * A step is a panel that takes the place of the question field (suggestions, field, actions)
 * until it is done or the visitor goes back: the conversation above keeps its room. The lead
 * form is one; a slot picker or a payment is another, in a part of its own:
 *
 *   tool("booking", "bookAction", function () {
 *     showStep({ name: "booking", title: t("bookTitle"), body: pickerNode, onClose: fn });
 *   });
 *
 * tool(name, label key, start) adds an action under the question field when the agent's public
 * config enables the tool `name`. showStep({name, title, body, onClose}) opens a step (closing
 * any other); closeStep() goes back to the question field; stepOpen(name) says which is open.
 */
var tools = [];
var currentStep = null;

function tool(name, labelKey, start) {
  tools.push({ name: name, label: labelKey, start: start, button: null });
}

function toolButton(name) {
  for (var i = 0; i < tools.length; i++) {
    if (tools[i].name === name) {
      return tools[i].button;
    }
  }
  return null;
}

function buildActions() {
  var enabled = config.tools || [];
  tools.forEach(function (entry) {
    if (enabled.indexOf(entry.name) < 0) {
      return;
    }
    entry.button = el("button", { type: "button", class: "link", "data-tool": entry.name, text: t(entry.label), onclick: entry.start });
    actions.appendChild(entry.button);
  });
}

function showStep(step) {
  closeStep(true);
  currentStep = step;
  var heading = el("h2", { id: "step-title", text: step.title });
  var back = el("button", { type: "button", class: "icon back", "aria-label": t("back"), onclick: function () { closeStep(); } }, [icon(BACK)]);
  stepBox.textContent = "";
  stepBox.setAttribute("data-step", step.name);
  stepBox.appendChild(el("div", { class: "step-head" }, [back, heading]));
  stepBox.appendChild(step.body);
  stepBox.hidden = false;
  dock.hidden = true;
  // the conversation got shorter: keep its latest message in view
  scroll();
  var first = step.body.querySelector("input, textarea, select, button");
  (first || back).focus();
}

// quiet: another step replaces this one (the focus moves there, not to the question field)
function closeStep(quiet) {
  if (!currentStep) {
    return;
  }
  var closing = currentStep;
  currentStep = null;
  stepBox.hidden = true;
  stepBox.textContent = "";
  stepBox.removeAttribute("data-step");
  dock.hidden = false;
  if (closing.onClose) {
    closing.onClose();
  }
  if (!quiet) {
    input.focus();
  }
}

function stepOpen(name) {
  return currentStep && currentStep.name === name;
}
