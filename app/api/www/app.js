// localcloud's page: everything arrives on one server-sent event stream (GET api/events):
// a snapshot first, then each change as it happens. Buttons go through the JSON API, which
// takes the same paths as MQTT (same checks, same events, same read-back): the page shows a
// value only once the device reported it.
import { ApiError, command, request, setToken } from "./api.js";
import { Bridge } from "./bridge.js";
import { Devices } from "./devices.js";
import { ask, setupDialogs, toast } from "./dialogs.js";
import { label } from "./format.js";
import { Log } from "./log.js";

const $ = (id) => document.getElementById(id);

let changes = "open";

// Runs `call`; on 401 asks for the token once and tries again.
async function withToken(call) {
  try {
    return await call();
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
    let answer;
    const ok = await ask({
      title: "Token needed",
      text: "Changes need the api.token of this localcloud (it is kept in this browser).",
      label: "Token",
      secret: true,
      ok: "Use token",
      action: async (value) => {
        setToken(value);
        answer = await call();
      },
    });
    if (!ok) throw new ApiError(401, "no token given", null);
    return answer;
  }
}

const devices = new Devices($("device-list"), {
  async command(key, property, value) {
    try {
      await withToken(() => command(key, property, value));
    } catch (error) {
      toast(`${key}: ${label(property)} ${value} failed: ${error.message}`, "error");
      throw error;
    }
  },
  rename(key) {
    ask({
      title: `Rename ${key}`,
      text: "The new name becomes the device's MQTT key and Home Assistant entity ids.",
      label: "New name",
      value: key,
      ok: "Rename",
      action: async (to) => {
        if (!to || to === key) throw new Error("Enter a new name");
        await withToken(() => request("device/rename", { from: key, to }));
        toast(`${key} is now ${to}`);
      },
    });
  },
  remove(key) {
    ask({
      title: `Remove ${key}?`,
      text: "localcloud forgets the device and clears its MQTT state and Home Assistant entities. If it talks to localcloud again it comes back as new.",
      ok: "Remove",
      danger: true,
      action: async () => {
        await withToken(() => request("device/remove", { device: key }));
        toast(`${key} removed`);
      },
    });
  },
});

const bridge = new Bridge({
  async permitJoin(name, seconds) {
    try {
      return await withToken(() => request("permit_join", { time: seconds, bridge: name }));
    } catch (error) {
      toast(`permit_join for ${name} failed: ${error.message}`, "error");
      return null;
    }
  },
});

const log = new Log();

function refreshLists() {
  const list = devices.keys().map((key) => devices.get(key));
  log.setDevices(list);
  bridge.summary(list.length, list.filter((d) => d.online).length);
  $("no-devices").hidden = list.length > 0;
  const select = $("device-bridge");
  const chosen = select.value;
  const names = [...new Set([...Object.keys(bridge.status?.bridges || {}), ...list.map((d) => d.bridge)])].sort();
  const options = [...select.options].slice(1).map((o) => o.value);
  if (names.join() !== options.join()) {
    select.replaceChildren(select.options[0], ...names.map((n) => Object.assign(document.createElement("option"), { value: n, textContent: n })));
    select.value = names.includes(chosen) ? chosen : "";
  }
}

// The trace hint's button: the options request (log.trace at run time, not written to the
// config file), as bridge/request/options over MQTT.
$("trace-on").addEventListener("click", async () => {
  try {
    await withToken(() => request("options", { options: { log: { trace: true } } }));
    toast("Protocol trace on (until localcloud restarts)");
  } catch (error) {
    toast(`Turning the trace on failed: ${error.message}`, "error");
  }
});

function showStatus(status) {
  bridge.show(status);
  changes = status.changes || "open";
  devices.setBridges(status.bridges);
  devices.setChanges(changes);
  log.setTraceOn(status.log && status.log.trace);
  $("trace-on").disabled = changes === "refused";
}

// ---- the event stream --------------------------------------------------------------------

let source = null;
let retryTimer = 0;

function setLive(text, state) {
  const live = $("live");
  live.textContent = text;
  live.dataset.state = state;
}

function handlers() {
  const parse = (event) => JSON.parse(event.data);
  return {
    snapshot(data) {
      showStatus(data.status);
      devices.reset(data.devices || []);
      log.reset(data.log || []);
      refreshLists();
      setLive("Live", "live");
    },
    status(data) {
      showStatus(data);
      refreshLists();
    },
    device(data) {
      devices.upsert(data);
      refreshLists();
    },
    device_removed(data) {
      devices.remove(data.key);
      refreshLists();
    },
    state(data) {
      devices.values(data);
    },
    availability(data) {
      devices.presence(data);
      refreshLists();
    },
    seen(data) {
      devices.seen(data.devices || {});
      refreshLists();
    },
    event(data) {
      if (data.type === "device_error") devices.deviceError(data);
    },
    log(data) {
      log.add(data.lines || []);
      log.skipped(data.skipped || 0);
    },
    parse,
  };
}

function connect() {
  clearTimeout(retryTimer);
  if (source) source.close();
  source = new EventSource("api/events");
  const on = handlers();
  for (const name of ["snapshot", "status", "device", "device_removed", "state", "availability", "seen", "event", "log"]) {
    source.addEventListener(name, (event) => {
      try {
        on[name](on.parse(event));
      } catch (error) {
        console.warn(`localcloud: a ${name} message could not be shown`, error);
      }
    });
  }
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) {
      // Refused (too many pages open) or the daemon is gone: try again in a while.
      setLive("Not live: localcloud refused or is not running; retrying…", "down");
      retryTimer = setTimeout(connect, 5000);
    } else {
      setLive("Reconnecting…", "down");
    }
  });
}

// ---- start ---------------------------------------------------------------------------------

setupDialogs();
$("device-filter").addEventListener("input", () => devices.filter($("device-filter").value, $("device-bridge").value));
$("device-bridge").addEventListener("change", () => devices.filter($("device-filter").value, $("device-bridge").value));
setInterval(() => {
  devices.tick();
  bridge.tick();
}, 1000);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && (!source || source.readyState === EventSource.CLOSED)) connect();
});
connect();
