// The device cards: one <article data-device="<key>" data-online="…"> per device with its
// values (data-property), a control per writable property (data-command), last seen
// (data-last-seen, ticking) and the device's cloud conversation at a glance.
import { ago, label, localTime, valueText } from "./format.js";

// Where a device that never reached us should have been pointed: its bridge's listeners (the
// vendors' host names are in the README's sections; the page knows no vendor by name).
function reachHint(listeners) {
  const ports = [...new Set((listeners || []).map((l) => `${String(l.protocol).toUpperCase()} ${String(l.address).split(":").pop()}`))];
  return ports.length
    ? `Point the device's cloud host names at this host (DNS override or DNAT) so that it reaches ${ports.join(", ")}.`
    : "Check that the device's cloud traffic is pointed at this host.";
}

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "class") element.className = value;
    else if (name === "text") element.textContent = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false) element.append(child);
  return element;
}

function isOn(value) {
  return value === "ON" || value === true;
}

export class Devices {
  constructor(container, actions) {
    this.container = container;
    this.actions = actions;  // {command(key, property, value), rename(key), remove(key)}
    this.devices = new Map();  // key -> {data, element, refs}
    this.changes = "open";
    this.listeners = {};  // bridge -> its listeners, from the status
    this.filterText = "";
    this.filterBridge = "";
  }

  reset(list) {
    this.devices.clear();
    this.container.replaceChildren();
    for (const device of list) this.upsert(device);
  }

  keys() {
    return [...this.devices.keys()];
  }

  get(key) {
    return this.devices.get(key)?.data;
  }

  upsert(data) {
    const old = this.devices.get(data.key);
    const entry = { data, element: null, refs: null };
    this.build(entry);
    if (old) {
      old.element.replaceWith(entry.element);
    } else {
      const next = [...this.devices.keys()].sort().find((key) => key > data.key);
      if (next) this.container.insertBefore(entry.element, this.devices.get(next).element);
      else this.container.append(entry.element);
    }
    this.devices.set(data.key, entry);
    this.applyFilter(entry);
  }

  remove(key) {
    const entry = this.devices.get(key);
    if (!entry) return;
    entry.element.remove();
    this.devices.delete(key);
  }

  values({ key, state }) {
    const entry = this.devices.get(key);
    if (!entry) return;
    entry.data.state = state || {};
    this.showValues(entry);
    if (entry.refs.more.open) this.loadAttributes(entry);
  }

  // Attributes (schedules, raw readings) are not on the stream: fetched when Details open.
  async loadAttributes(entry) {
    if (!entry.data.has_attributes && entry.data.attributes === undefined) return;
    try {
      const response = await fetch(`api/devices/${encodeURIComponent(entry.data.key)}`, { cache: "no-store" });
      if (!response.ok) return;
      const device = await response.json();
      entry.data.attributes = device.attributes;
      entry.data.has_attributes = !!device.attributes;
      this.showValues(entry);
    } catch {
      // the stream says when localcloud is gone
    }
  }

  presence({ key, online, last_seen }) {
    const entry = this.devices.get(key);
    if (!entry) return;
    if (online !== undefined) entry.data.online = online;
    if (last_seen !== undefined) {
      entry.data.last_seen = last_seen;
      if (last_seen) entry.data.heard = true;
    }
    this.showPresence(entry);
  }

  seen(map) {
    for (const [key, update] of Object.entries(map)) {
      const entry = this.devices.get(key);
      if (!entry) continue;
      if (update.cloud) entry.data.cloud = update.cloud;
      this.presence({ key, online: update.online, last_seen: update.last_seen });
    }
  }

  deviceError(event) {
    const entry = this.devices.get(event.device);
    if (!entry) return;
    const { type, device, bridge, ...detail } = event;
    entry.data.cloud = { ...(entry.data.cloud || {}), error: { ...detail, bridge }, error_at: new Date().toISOString() };
    this.showPresence(entry);
  }

  setBridges(bridges) {
    for (const [name, bridge] of Object.entries(bridges || {})) this.listeners[name] = bridge.listeners || [];
  }

  setChanges(mode) {
    this.changes = mode;
    for (const entry of this.devices.values()) this.showControls(entry);
  }

  filter(text, bridge) {
    this.filterText = text.trim().toLowerCase();
    this.filterBridge = bridge;
    for (const entry of this.devices.values()) this.applyFilter(entry);
  }

  visibleCount() {
    let n = 0;
    for (const entry of this.devices.values()) if (!entry.element.hidden) n++;
    return n;
  }

  applyFilter(entry) {
    const { data } = entry;
    const haystack = [data.key, data.name, data.model, data.bridge, data.manufacturer, data.id].join(" ").toLowerCase();
    entry.element.hidden =
      (this.filterBridge && data.bridge !== this.filterBridge) || (this.filterText && !haystack.includes(this.filterText));
  }

  // Every "last seen" and "... ago" text, once a second.
  tick() {
    for (const entry of this.devices.values()) {
      for (const time of entry.element.querySelectorAll("time[data-ago]")) time.textContent = ago(time.getAttribute("datetime"));
    }
  }

  // ---- building a card ------------------------------------------------------------------

  build(entry) {
    const { data } = entry;
    const refs = { values: new Map(), controls: new Map() };
    entry.refs = refs;
    const titleId = `device-${cssId(data.key)}`;
    const properties = (data.properties || []).filter((p) => !p.diagnostic);
    const diagnostics = (data.properties || []).filter((p) => p.diagnostic);
    properties.sort((a, b) => (b.main ? 1 : 0) - (a.main ? 1 : 0));

    refs.badge = h("span", { class: "badge" });
    refs.lastSeen = h("time", { "data-last-seen": "", "data-ago": "" });
    refs.talk = h("p", { class: "talk" });
    refs.reach = h("p", { class: "reach" });
    refs.diagnostics = new Map();

    const sub = [data.bridge, data.model || "model not known yet", data.firmware ? `firmware ${data.firmware}` : null]
      .filter(Boolean)
      .join(" · ");
    const element = h(
      "article",
      { class: "device", "data-device": data.key, "data-bridge": data.bridge, "aria-labelledby": titleId },
      h(
        "header",
        { class: "device-head" },
        h("div", { class: "device-title" }, h("h3", { id: titleId, text: data.key }), h("p", { class: "sub", text: sub })),
        refs.badge,
      ),
      h("div", { class: "conversation" }, h("p", { class: "seen" }, "Last seen ", refs.lastSeen), refs.talk, refs.reach),
      h("dl", { class: "values" }, properties.map((property) => this.valueRow(entry, property))),
      (refs.more = h(
        "details",
        { class: "more", ontoggle: () => refs.more.open && this.loadAttributes(entry) },
        h("summary", { text: "Details" }),
        h(
          "dl",
          { class: "meta" },
          metaRow("Key", data.key),
          metaRow("Id", data.id),
          metaRow("Manufacturer", data.manufacturer || "–"),
          metaRow("In the config", data.configured ? "yes" : "no (found on the network)"),
          diagnostics.map((property) => {
            const value = h("span", { "data-property": property.key });
            refs.values.set(property.key, { property, value });
            return h(
              "div",
              {},
              h("dt", { text: label(property.key) }),
              h("dd", {}, value, property.unit ? h("span", { class: "unit", text: ` ${property.unit}` }) : null),
            );
          }),
        ),
        (refs.attributes = h("pre", { class: "attributes", "aria-label": "Attributes" })),
      )),
      h(
        "div",
        { class: "actions" },
        (refs.rename = h("button", { type: "button", text: "Rename", onclick: () => this.actions.rename(data.key) })),
        (refs.remove = h("button", {
          type: "button",
          class: "danger-text",
          text: "Remove",
          onclick: () => this.actions.remove(data.key),
        })),
      ),
    );
    entry.element = element;
    this.showPresence(entry);
    this.showValues(entry);
    this.showControls(entry);
  }

  valueRow(entry, property) {
    const { data, refs } = entry;
    const value = h("span", { class: "reading", "data-property": property.key });
    refs.values.set(property.key, { property, value });
    const unit = property.unit ? h("span", { class: "unit", text: property.unit }) : null;
    let control = null;
    const name = label(property.key);
    if (property.writable && property.component === "switch") {
      control = h("button", {
        type: "button",
        class: "switch",
        role: "switch",
        "aria-checked": "false",
        "aria-label": `${name} of ${data.key}`,
        "data-command": property.key,
        onclick: () => {
          const current = data.state ? data.state[property.key] : null;
          this.send(entry, property, control, isOn(current) ? "OFF" : "ON");
        },
      });
    } else if (property.writable && property.component === "select") {
      control = h(
        "select",
        {
          "aria-label": `${name} of ${data.key}`,
          "data-command": property.key,
          onchange: () => this.send(entry, property, control, control.value),
        },
        (property.options || []).map((option) => h("option", { value: option, text: option })),
      );
    } else if (property.writable && property.component === "number") {
      const [min, max, step] = property.range || [];
      control = h("input", {
        type: "number",
        min,
        max,
        step,
        inputmode: "decimal",
        "aria-label": `${name} of ${data.key}`,
        "data-command": property.key,
        onchange: () => {
          if (control.value !== "") this.send(entry, property, control, Number(control.value));
        },
      });
    }
    if (control) refs.controls.set(property.key, control);
    return h(
      "div",
      { class: `value${property.main ? " main" : ""} kind-${property.component}` },
      h("dt", { text: name }),
      h("dd", {}, h("span", { class: "figure" }, value, unit), control),
    );
  }

  async send(entry, property, control, value) {
    control.setAttribute("aria-busy", "true");
    control.disabled = true;
    try {
      await this.actions.command(entry.data.key, property.key, value);
    } catch {
      // the caller said why; the control shows the reported state again
    } finally {
      control.removeAttribute("aria-busy");
      control.disabled = this.changes === "refused";
      const current = this.devices.get(entry.data.key);
      if (current) this.showValues(current);
    }
  }

  // ---- updating a card --------------------------------------------------------------------

  showValues(entry) {
    const { data, refs } = entry;
    const state = data.state || {};
    for (const [key, { property, value }] of refs.values) {
      const current = state[key];
      value.textContent = valueText(property, current);
      value.classList.toggle("on", isOn(current));
      value.classList.toggle("unknown", current === null || current === undefined);
      const control = refs.controls.get(key);
      if (!control || control.getAttribute("aria-busy")) continue;
      if (property.component === "switch") control.setAttribute("aria-checked", isOn(current) ? "true" : "false");
      else if (property.component === "select" && document.activeElement !== control) {
        if (current === null || current === undefined) control.selectedIndex = -1;
        else control.value = String(current);
      } else if (property.component === "number" && document.activeElement !== control) {
        control.value = current === null || current === undefined ? "" : String(current);
      }
    }
    const attributes = data.attributes;
    refs.attributes.hidden = !attributes || Object.keys(attributes).length === 0;
    refs.attributes.textContent = refs.attributes.hidden ? "" : JSON.stringify(attributes, null, 1);
  }

  showPresence(entry) {
    const { data, element, refs } = entry;
    element.dataset.online = data.online ? "true" : "false";
    refs.badge.textContent = data.online ? "Online" : "Offline";
    refs.badge.className = `badge ${data.online ? "online" : "offline"}`;
    const seen = data.last_seen || "";
    refs.lastSeen.setAttribute("data-last-seen", seen);
    refs.lastSeen.setAttribute("datetime", seen);
    refs.lastSeen.title = seen ? localTime(seen) : "";
    refs.lastSeen.textContent = ago(seen);

    // The cloud conversation: never reached us / reached us, but ... / talking.
    const cloud = data.cloud || {};
    const heard = data.heard || !!data.last_seen || (cloud.exchanges || 0) > 0;
    refs.talk.replaceChildren();
    refs.reach.replaceChildren();
    refs.reach.hidden = true;
    let state = "ok";
    if (cloud.error) {
      state = "error";
      const why = cloud.error.message || cloud.error.error || cloud.error.detail || JSON.stringify(cloud.error);
      refs.reach.append(
        h("strong", { text: heard ? "Reached localcloud, but: " : "Something reached localcloud, but: " }),
        String(why),
        " ",
        h("time", { datetime: cloud.error_at || "", "data-ago": "", text: ago(cloud.error_at) }),
      );
      refs.reach.hidden = false;
    } else if (!heard) {
      state = "never";
      refs.reach.append(
        h("strong", { text: "Never reached localcloud. " }),
        reachHint(this.listeners[data.bridge]),
      );
      refs.reach.hidden = false;
    }
    if (cloud.received) {
      refs.talk.append(
        "Said ",
        h("q", { text: cloud.received }),
        cloud.answered ? " → answered " : " → not answered",
        cloud.answered ? h("q", { text: cloud.answered }) : "",
        " ",
        h("time", { datetime: cloud.at || "", "data-ago": "", text: ago(cloud.at) }),
      );
    } else if (heard && !cloud.error) {
      refs.talk.append("Talking to localcloud");
    }
    refs.talk.hidden = !refs.talk.firstChild;
    element.dataset.reach = state;
  }

  showControls(entry) {
    const { refs } = entry;
    const refused = this.changes === "refused";
    const why = refused ? "Read-only: set api.token to change things from here" : "";
    for (const control of refs.controls.values()) {
      if (!control.getAttribute("aria-busy")) control.disabled = refused;
      control.title = why;
    }
    refs.rename.disabled = refs.remove.disabled = refused;
  }
}

function metaRow(term, value) {
  return h("div", {}, h("dt", { text: term }), h("dd", { text: value }));
}

function cssId(key) {
  return String(key).replace(/[^A-Za-z0-9_-]/g, (c) => `_${c.charCodeAt(0).toString(16)}`);
}
