// Formatting for the page: times, durations, property labels and values with units.

// The server's clock minus ours (ms), from the status messages: "last seen" ticks in the
// daemon's time even when the browser's clock is off.
let skew = 0;
export function setServerNow(iso) {
  const server = Date.parse(iso);
  if (!Number.isNaN(server)) skew = server - Date.now();
}
export function now() {
  return Date.now() + skew;
}

export function ago(iso) {
  if (!iso) return "never";
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "?";
  const seconds = Math.max(0, Math.round((now() - then) / 1000));
  if (seconds < 2) return "just now";
  return duration(seconds) + " ago";
}

export function duration(seconds) {
  seconds = Math.max(0, Math.floor(seconds));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

export function localTime(iso) {
  const then = new Date(iso);
  return Number.isNaN(then.getTime()) ? "" : then.toLocaleString();
}

export function clockTime(iso) {
  const then = new Date(iso);
  if (Number.isNaN(then.getTime())) return iso || "";
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(then.getHours())}:${pad(then.getMinutes())}:${pad(then.getSeconds())}.${pad(then.getMilliseconds(), 3)}`;
}

const LABELS = {
  load_power: "Power draw",
  power_factor: "Power factor",
  leakage_current: "Leakage current",
  wifi_led: "Wi-Fi LED",
  usb_power: "USB power",
  power_price: "Power price",
  rssi: "Wi-Fi signal",
  load_detected: "Load detected",
  work_mode: "Work mode",
  boost_remaining: "Boost remaining",
  active_schedule: "Active schedule",
};

export function label(key) {
  if (LABELS[key]) return LABELS[key];
  const words = String(key).replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

// A value as text: switches ON/OFF, numbers rounded, null as a dash.
export function valueText(property, value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "boolean") return value ? "ON" : "OFF";
  if (typeof value === "number") {
    if (property && Number.isInteger(property.precision)) return value.toFixed(property.precision);
    if (Number.isInteger(value)) return String(value);
    return String(Math.round(value * 1000) / 1000);
  }
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
