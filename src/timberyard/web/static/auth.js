// The signed-in credential, kept for this browser tab only (sessionStorage).

const STORAGE_KEY = "timberyard.auth";
const KEY_PREFIXES = { sk: "Server key", rk: "Read key", ik: "Ingest key", pk: "Public key" };

function load() {
  try {
    const value = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
    return value && typeof value.token === "string" ? value : null;
  } catch {
    return null;
  }
}

let current = load();

export const auth = {
  /** {token, kind: "key"|"admin", project?, organisation?} or null. */
  get: () => current,
  set(value) {
    current = value;
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(value));
  },
  update(changes) {
    if (current) this.set({ ...current, ...changes });
  },
  clear() {
    current = null;
    sessionStorage.removeItem(STORAGE_KEY);
  },
};

/** Whether a token looks like a project key rather than the admin token. */
export function isProjectKey(token) {
  return /^(sk|rk|ik|pk)_/.test(token);
}

/** "Server key …a1b2" / "Admin": what the header says about the credential. */
export function credentialLabel(value) {
  if (!value) return "";
  if (value.kind === "admin") return "Admin";
  const kind = KEY_PREFIXES[value.token.slice(0, 2)] || "Key";
  return `${kind} …${value.token.slice(-4)}`;
}
