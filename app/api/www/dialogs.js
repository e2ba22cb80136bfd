// One modal <dialog> for questions (remove?), a text (rename to, the token) and the answer
// of the action it starts: the dialog stays open with the error until the action succeeds.
const $ = (id) => document.getElementById(id);

let current = null;

function close() {
  const dialog = $("dialog");
  if (dialog.open) dialog.close();
  current = null;
}

// ask({title, text, label, value, ok, danger, action}): `action(value)` runs on OK and may
// throw (the message is shown, the dialog stays); resolves true once it succeeded, false on
// cancel.
export function ask({ title, text = "", label = "", value = "", ok = "OK", danger = false, secret = false, action }) {
  if (current) current.resolve(false);
  const dialog = $("dialog");
  $("dialog-title").textContent = title;
  $("dialog-text").textContent = text;
  $("dialog-text").hidden = !text;
  $("dialog-error").textContent = "";
  const field = $("dialog-field");
  const input = $("dialog-input");
  field.hidden = !label;
  $("dialog-label").textContent = label;
  input.type = secret ? "password" : "text";
  input.value = value;
  const okButton = $("dialog-ok");
  okButton.textContent = ok;
  okButton.classList.toggle("danger", danger);
  okButton.disabled = false;
  return new Promise((resolve) => {
    current = { resolve, action, field: !!label };
    dialog.showModal();
    (label ? input : okButton).focus();
    if (label) input.select();
  });
}

async function submit(event) {
  event.preventDefault();
  if (!current) return;
  const { resolve, action, field } = current;
  const value = field ? $("dialog-input").value.trim() : "";
  const okButton = $("dialog-ok");
  okButton.disabled = true;
  $("dialog-error").textContent = "";
  try {
    if (action) await action(value);
    close();
    resolve(true);
  } catch (error) {
    $("dialog-error").textContent = error.message || String(error);
    okButton.disabled = false;
  }
}

export function setupDialogs() {
  $("dialog-form").addEventListener("submit", submit);
  $("dialog-cancel").addEventListener("click", () => {
    const pending = current;
    close();
    if (pending) pending.resolve(false);
  });
  $("dialog").addEventListener("cancel", () => {
    const pending = current;
    current = null;
    if (pending) pending.resolve(false);
  });
}

// A short message at the bottom of the screen; errors stay longer.
export function toast(message, kind = "info") {
  const area = $("toasts");
  const item = document.createElement("p");
  item.className = `toast ${kind}`;
  item.textContent = message;
  area.append(item);
  while (area.children.length > 4) area.firstElementChild.remove();
  setTimeout(() => item.remove(), kind === "error" ? 9000 : 4000);
}
