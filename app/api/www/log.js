// The live log panel: lines as the daemon logs them (masked), the protocol trace when
// log.trace is on, filters by source, device, level and text, and a pause.
import { h } from "./devices.js";
import { clockTime } from "./format.js";

const $ = (id) => document.getElementById(id);
const MAX_LINES = 1000;  // kept in the panel; older ones go
const LEVELS = { debug: 0, info: 1, warn: 2, error: 3 };

export class Log {
  constructor() {
    this.list = $("log-lines");
    this.lines = [];  // every kept line: {line, element}
    this.paused = false;
    this.held = [];  // lines that arrived while paused
    this.sources = new Set();
    this.devices = [];  // [{key, log_name}]
    this.filters = { source: "", device: "", level: 1, text: "", trace: true };
    this.traceSeen = false;
    const refilter = () => this.readFilters();
    for (const id of ["log-bridge", "log-device", "log-level", "log-trace"]) $(id).addEventListener("change", refilter);
    $("log-text").addEventListener("input", refilter);
    $("log-pause").addEventListener("click", () => this.setPaused(!this.paused));
    $("log-clear").addEventListener("click", () => {
      this.lines = [];
      this.held = [];
      this.list.replaceChildren();
      this.setPaused(this.paused);
    });
    this.readFilters();
  }

  readFilters() {
    const level = $("log-level").value;
    this.filters = {
      source: $("log-bridge").value,
      device: $("log-device").value,
      level: LEVELS[level] ?? 1,
      text: $("log-text").value.trim().toLowerCase(),
      trace: $("log-trace").checked,
    };
    const needle = this.deviceNeedle();
    for (const { line, element } of this.lines) element.hidden = !this.matches(line, needle);
  }

  // A device is named in log lines by its log_name (its name, or with mask_ids a masked id).
  deviceNeedle() {
    if (!this.filters.device) return "";
    const device = this.devices.find((d) => d.key === this.filters.device);
    return device ? String(device.log_name || device.key).toLowerCase() : this.filters.device.toLowerCase();
  }

  matches(line, needle) {
    const f = this.filters;
    if (line.trace) {
      if (!f.trace) return false;
    } else if ((LEVELS[line.level] ?? 1) < f.level) {
      return false;
    }
    if (f.source && line.component !== f.source) return false;
    const text = line.text.toLowerCase();
    if (needle && !text.includes(needle)) return false;
    if (f.text && !text.includes(f.text) && !line.component.toLowerCase().includes(f.text)) return false;
    return true;
  }

  setDevices(devices) {
    this.devices = devices.map((d) => ({ key: d.key, log_name: d.log_name }));
    const select = $("log-device");
    const chosen = select.value;
    select.replaceChildren(
      h("option", { value: "", text: "All devices" }),
      ...this.devices.map((d) => h("option", { value: d.key, text: d.key })),
    );
    select.value = this.devices.some((d) => d.key === chosen) ? chosen : "";
  }

  setPaused(paused) {
    this.paused = paused;
    const button = $("log-pause");
    button.setAttribute("aria-pressed", paused ? "true" : "false");
    if (!paused && this.held.length) {
      const held = this.held;
      this.held = [];
      this.add(held);
    }
    button.textContent = paused ? (this.held.length ? `Resume (${this.held.length} new)` : "Resume") : "Pause";
  }

  reset(lines) {
    this.lines = [];
    this.held = [];
    this.list.replaceChildren();
    this.add(lines, true);
  }

  add(lines, force = false) {
    if (!lines.length) return;
    if (this.paused && !force) {
      this.held.push(...lines);
      if (this.held.length > MAX_LINES) this.held.splice(0, this.held.length - MAX_LINES);
      $("log-pause").textContent = `Resume (${this.held.length} new)`;
      return;
    }
    const stick = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    const needle = this.deviceNeedle();
    const fragment = document.createDocumentFragment();
    for (const line of lines) {
      this.noteSource(line.component);
      if (line.trace && !this.traceSeen) {
        this.traceSeen = true;
        $("trace-hint").hidden = true;
      }
      const element = h(
        "li",
        { class: `line ${line.trace ? "trace" : line.level}` },
        h("time", { datetime: line.time, text: clockTime(line.time) }),
        h("span", { class: "level", text: line.trace ? "trace" : line.level }),
        h("span", { class: "component", text: line.component }),
        h("span", { class: "text", text: line.text }),
      );
      element.hidden = !this.matches(line, needle);
      fragment.append(element);
      this.lines.push({ line, element });
    }
    this.list.append(fragment);
    if (this.lines.length > MAX_LINES) {
      for (const { element } of this.lines.splice(0, this.lines.length - MAX_LINES)) element.remove();
    }
    if (stick) this.list.scrollTop = this.list.scrollHeight;
  }

  skipped(n) {
    if (n > 0) this.add([{ time: new Date().toISOString(), level: "warn", component: "page", text: `${n} log lines skipped (too many at once)` }]);
  }

  noteSource(component) {
    if (!component || this.sources.has(component)) return;
    this.sources.add(component);
    const select = $("log-bridge");
    const options = [...this.sources].sort();
    const chosen = select.value;
    select.replaceChildren(h("option", { value: "", text: "All sources" }), ...options.map((s) => h("option", { value: s, text: s })));
    select.value = chosen;
  }

  setTraceOn(on) {
    if (on) $("trace-hint").hidden = true;
    else if (!this.traceSeen) $("trace-hint").hidden = false;
  }
}
