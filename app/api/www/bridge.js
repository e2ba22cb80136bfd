// The header (broker, version, uptime, devices online) and one card per bridge: listeners,
// devices online, packets in/out/dropped, and permit_join.
import { h } from "./devices.js";
import { duration, now, plural, setServerNow } from "./format.js";

const $ = (id) => document.getElementById(id);

const JOIN_SECONDS = 254;  // zigbee2mqtt's default permit_join window

export class Bridge {
  constructor(actions) {
    this.actions = actions;  // {permitJoin(bridge, seconds) -> Promise<{time}>}
    this.status = null;
    this.uptimeBase = 0;
    this.uptimeAt = 0;
    this.joinUntil = new Map();  // bridge -> ms (our clock) when permit_join ends
    this.joinAnsweredAt = new Map();  // bridge -> ms (our clock) of our last permit_join answer
    this.cards = new Map();
  }

  show(status) {
    this.status = status;
    if (status.now) setServerNow(status.now);
    this.uptimeBase = status.uptime || 0;
    this.uptimeAt = Date.now();
    const connected = status.broker && status.broker.connected;
    $("broker").textContent = connected ? "Broker connected" : "Broker not connected";
    $("broker-dot").className = `dot ${connected ? "good" : "bad"}`;
    $("version").textContent = `v${status.version}`;
    this.tick();
    const banner = $("banner");
    if (status.changes === "refused") {
      banner.textContent =
        "Read-only: this page is served beyond loopback and no api.token is set, so every change is refused. Set api.token in the config to use the switches here.";
      banner.hidden = false;
    } else {
      banner.hidden = true;
    }
    const list = $("bridge-list");
    const names = Object.keys(status.bridges || {}).sort();
    for (const [name, card] of this.cards) {
      if (!names.includes(name)) {
        card.element.remove();
        this.cards.delete(name);
      }
    }
    for (const name of names) {
      let card = this.cards.get(name);
      if (!card) {
        card = this.buildCard(name);
        this.cards.set(name, card);
        list.append(card.element);
      }
      this.fillCard(card, status.bridges[name]);
    }
  }

  summary(devices, online) {
    $("summary").textContent = `${plural(devices, "device")}, ${online} online`;
  }

  buildCard(name) {
    const card = { name };
    card.listeners = h("ul", { class: "listeners", "aria-label": `${name} listeners` });
    card.devices = h("dd");
    card.packetsIn = h("dd");
    card.packetsOut = h("dd");
    card.dropped = h("dd");
    card.join = h("button", { type: "button", class: "join", onclick: () => this.toggleJoin(name) });
    card.joinState = h("span", { class: "join-state" });
    card.element = h(
      "article",
      { class: "bridge", "data-bridge": name, "aria-label": `Bridge ${name}` },
      h("h3", { text: name }),
      card.listeners,
      h(
        "dl",
        { class: "counts" },
        h("div", {}, h("dt", { text: "Online" }), card.devices),
        h("div", {}, h("dt", { text: "Packets in" }), card.packetsIn),
        h("div", {}, h("dt", { text: "Out" }), card.packetsOut),
        h("div", {}, h("dt", { text: "Dropped" }), card.dropped),
      ),
      h("div", { class: "join-row" }, card.join, card.joinState),
    );
    return card;
  }

  fillCard(card, bridge) {
    card.listeners.replaceChildren(
      ...(bridge.listeners || []).map((l) => h("li", {}, h("span", { class: "proto", text: l.protocol }), ` ${l.address}`)),
    );
    card.devices.textContent = `${bridge.online ?? 0} / ${bridge.devices ?? 0}`;
    card.devices.title = `${bridge.online ?? 0} of ${bridge.devices ?? 0} devices online`;
    const packets = bridge.packets || {};
    card.packetsIn.textContent = count(packets.in);
    card.packetsOut.textContent = count(packets.out);
    card.dropped.textContent = count(packets.dropped);
    card.dropped.classList.toggle("warn", (packets.dropped || 0) > 0);
    // The daemon's own word on permit_join (bridge/info's): opened or closed elsewhere too
    // (MQTT, another page), its end in the daemon's clock (ms since the epoch).
    // A status sent just before our own request's answer is not taken for the truth.
    if (Date.now() - (this.joinAnsweredAt.get(card.name) || 0) < 3000) {
      // keep what the answer said
    } else if (bridge.permit_join === false) this.joinUntil.set(card.name, 0);
    else if (bridge.permit_join === true && Number.isFinite(bridge.permit_join_end))
      this.joinUntil.set(card.name, Date.now() + (bridge.permit_join_end - now()));
    this.showJoin(card);
  }

  async toggleJoin(name) {
    const open = (this.joinUntil.get(name) || 0) > Date.now();
    const answer = await this.actions.permitJoin(name, open ? 0 : JOIN_SECONDS);
    if (!answer) return;
    const seconds = answer.data && Number.isFinite(answer.data.time) ? answer.data.time : open ? 0 : JOIN_SECONDS;
    this.joinUntil.set(name, seconds > 0 ? Date.now() + seconds * 1000 : 0);
    this.joinAnsweredAt.set(name, Date.now());
    this.showJoin(this.cards.get(name));
  }

  showJoin(card) {
    if (!card) return;
    const left = Math.round(((this.joinUntil.get(card.name) || 0) - Date.now()) / 1000);
    const open = left > 0;
    card.join.textContent = open ? "Close joining" : "Permit join";
    card.join.setAttribute("aria-pressed", open ? "true" : "false");
    card.join.disabled = this.status && this.status.changes === "refused";
    card.joinState.textContent = open ? `unknown devices admitted for ${duration(left)}` : "";
  }

  tick() {
    if (this.uptimeAt) $("uptime").textContent = duration(this.uptimeBase + (Date.now() - this.uptimeAt) / 1000);
    for (const card of this.cards.values()) this.showJoin(card);
  }
}

function count(n) {
  n = Number(n || 0);
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}
