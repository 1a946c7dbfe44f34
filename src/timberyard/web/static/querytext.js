// Writing query-language text: quoting values and adding `field:value` filters.

const KEYWORDS = new Set(["AND", "OR", "NOT", "TO"]);
const UNSAFE = /[\s()"\\*[\]{}<>=]/;
// What the query language accepts as a field name (see timberyard.query.fields).
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_\-@$#]+)*$/;
const PATH_KEY = /^[A-Za-z0-9_\-@$#]+$/;

/** A value as written after `field:`: bare when unambiguous, else double-quoted. */
export function quoteValue(value) {
  const text = String(value);
  if (text && !KEYWORDS.has(text) && !UNSAFE.test(text)) return text;
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** Whether a name can be written as a field in a query. */
export function isFieldName(name) {
  return FIELD_NAME.test(name);
}

/** The query field of a path inside `fields`, or null when a key cannot be named. */
export function fieldsPath(keys) {
  if (!keys.length || !keys.every((k) => PATH_KEY.test(k))) return null;
  const name = `fields.${keys.join(".")}`;
  return isFieldName(name) ? name : null;
}

/** `field:value` (or `-field:value`) for a click-to-filter. */
export function clause(field, value, negate = false) {
  return `${negate ? "-" : ""}${field}:${quoteValue(value)}`;
}

/** Whether the query has an OR outside quotes and parentheses. */
function hasTopLevelOr(query) {
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < query.length; i++) {
    const ch = query[i];
    if (quoted) {
      if (ch === "\\") i++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === "\\") i++;
    else if (ch === "(") depth++;
    else if (ch === ")") depth--;
    else if (depth === 0 && query.startsWith("OR", i)) {
      const before = i === 0 || /\s|\)/.test(query[i - 1]);
      const after = i + 2 >= query.length || /\s|\(/.test(query[i + 2]);
      if (before && after) return true;
    }
  }
  return false;
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The query narrowed by one more clause; an opposite clause already there is removed. */
export function addClause(query, newClause) {
  let base = query.trim();
  const positive = newClause.replace(/^-/, "");
  const opposite = newClause.startsWith("-") ? positive : `-${positive}`;
  const present = (text) => new RegExp(`(^|[\\s(])${escapeRegExp(text)}(?=$|[\\s)])`);
  if (present(newClause).test(base)) return base;
  base = base.replace(present(opposite), "$1").replace(/\s+/g, " ").trim();
  if (!base) return newClause;
  return hasTopLevelOr(base) ? `(${base}) ${newClause}` : `${base} ${newClause}`;
}

/** The UTF-16 index of a position counted in code points (the server counts those). */
export function utf16Index(text, codePoints) {
  let index = 0;
  let seen = 0;
  for (const ch of text) {
    if (seen >= codePoints) break;
    index += ch.length;
    seen++;
  }
  return index;
}
