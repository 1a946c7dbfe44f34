// Time ranges: relative ("-15m" .. "now") or absolute (ISO instants), and formatting.

export const PRESETS = [
  { value: "15m", label: "Last 15 minutes" },
  { value: "1h", label: "Last hour" },
  { value: "24h", label: "Last 24 hours" },
  { value: "7d", label: "Last 7 days" },
];
export const DEFAULT_RANGE = { from: "-24h", to: "now" };

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const RELATIVE = /^-(\d+)(s|m|h|d|w)$/;

/** Milliseconds of a relative bound such as "-15m", or null. */
export function relativeMs(text) {
  const match = RELATIVE.exec(text || "");
  return match ? Number(match[1]) * UNIT_MS[match[2]] : null;
}

/** The preset value ("15m") a range is, or "" for a custom range. */
export function presetOf(range) {
  if (range.to !== "now") return "";
  const found = PRESETS.find((p) => `-${p.value}` === range.from);
  return found ? found.value : "";
}

/** An instant (ms) from URL text: ms digits, ISO 8601, "now" or relative; NaN if invalid. */
export function instantMs(text, now = Date.now()) {
  if (text === "now") return now;
  const rel = relativeMs(text);
  if (rel !== null) return now - rel;
  if (/^\d+$/.test(text)) return Number(text);
  return Date.parse(text);
}

/** The range as absolute milliseconds. */
export function resolve(range, now = Date.now()) {
  return { from: instantMs(range.from, now), to: instantMs(range.to, now) };
}

/** Whether URL text is a bound this page understands. */
export function validBound(text) {
  return typeof text === "string" && text !== "" && !Number.isNaN(instantMs(text));
}

/** An absolute range for two instants, as the URL holds it (ISO 8601, UTC). */
export function absolute(fromMs, toMs) {
  return { from: new Date(Math.round(fromMs)).toISOString(), to: new Date(Math.round(toMs)).toISOString() };
}

/** The from/to the API takes: relative text as is, absolute as ms since epoch. */
export function apiRange(range) {
  const bound = (text) => (text === "now" || relativeMs(text) !== null ? text : String(instantMs(text)));
  return { from: bound(range.from), to: bound(range.to) };
}

const pad = (n, width = 2) => String(n).padStart(width, "0");

/** "2026-04-27 12:34:56.789" in local time. */
export function formatTime(ms, { date = true, millis = true } = {}) {
  const d = new Date(ms);
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const frac = millis ? `.${pad(d.getMilliseconds(), 3)}` : "";
  return date ? `${day} ${time}${frac}` : `${time}${frac}`;
}

/** The value of an <input type="datetime-local"> for an instant. */
export function toLocalInput(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "3 min ago", "2 h ago", "5 d ago". */
export function ago(ms, now = Date.now()) {
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

/** "+1.234 s", "+12 min 3 s": an offset from the first entry. */
export function offset(ms) {
  if (ms < 1000) return `+${ms} ms`;
  if (ms < 60_000) return `+${(ms / 1000).toFixed(3)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  if (minutes < 60) return `+${minutes} min ${seconds} s`;
  return `+${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A human label of a range: its preset's name, or "from – to" in local time. */
export function describe(range) {
  const preset = PRESETS.find((p) => p.value === presetOf(range));
  if (preset) return preset.label;
  const { from, to } = resolve(range);
  return `${formatTime(from, { millis: false })} – ${formatTime(to, { millis: false })}`;
}
