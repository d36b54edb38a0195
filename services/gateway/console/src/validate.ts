// Client-side checks of the campaign form, mirroring CampaignSpec::parse and Price::parse in
// services/groupbuy/src/domain (same limits, same field names, so a message from either side
// lands next to the same input). The server stays the authority: whatever it refuses is shown
// the same way (see fieldOf).

export const CURRENCIES: Record<string, number> = { CNY: 2, USD: 2, EUR: 2, HKD: 2, JPY: 0 };
export const MIN_TEAM_SIZE = 2;
export const MAX_TEAM_SIZE = 50;
export const MAX_STOCK = 10_000_000;
export const MAX_TEAM_WINDOW_SECS = 30 * 24 * 3600;
const MAX_AMOUNT = 100_000_000;

/** What the form holds, as typed (strings), before conversion to the request. */
export interface CampaignForm {
  mode: "team" | "tipping";
  title: string;
  description: string;
  list_price: string;
  group_price: string;
  currency: string;
  stock: string;
  per_user_limit: string;
  starts_at: string; // datetime-local value, "" = now
  ends_at: string;
  team_size: string;
  team_window_secs: string;
  leader_discount: string;
  min_buyers: string;
}

export type FieldErrors = Partial<Record<keyof CampaignForm, string>>;

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const DECIMAL = /^\d+(\.\d+)?$/;

/** A money amount in minor units (fen) as a bigint, or an error message. Never floats. */
export function parseAmount(field: string, text: string, currency: string, allowZero: boolean): bigint | string {
  const t = text.trim();
  if (t.startsWith("-") && DECIMAL.test(t.slice(1))) return `${field} must not be negative`;
  if (!DECIMAL.test(t)) return `${field} must be a decimal amount like "33.30"`;
  const [whole, frac = ""] = t.split(".");
  const places = frac.replace(/0+$/, "");
  const minor = CURRENCIES[currency] ?? 2;
  if (places.length > minor) return `${field} has more than ${minor} decimal places for ${currency}`;
  const units = BigInt(whole) * 10n ** BigInt(minor) + BigInt((places + "0".repeat(minor)).slice(0, minor) || "0");
  if (units === 0n && !allowZero) return `${field} must be positive`;
  if (units > BigInt(MAX_AMOUNT) * 10n ** BigInt(minor)) return `${field} is too large`;
  return units;
}

function whole(text: string): number | null {
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : null;
}

/** Microseconds since the epoch of a datetime-local value (local time), or null. */
export function micros(value: string): bigint | null {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? null : BigInt(ms) * 1000n;
}

/** Every problem the server would report, one per field (the server stops at the first). */
export function validateCampaign(f: CampaignForm, nowMs: number = Date.now()): FieldErrors {
  const e: FieldErrors = {};
  const title = f.title.trim();
  if (title.length === 0 || [...title].length > 100 || CONTROL.test(title)) {
    e.title = "title must have 1 to 100 characters, none of them control characters";
  }
  const description = f.description.trim();
  if ([...description].length > 2000 || /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/.test(description)) {
    e.description = "description must have at most 2000 characters, none of them control characters";
  }
  if (!(f.currency.trim().toUpperCase() in CURRENCIES)) {
    e.currency = `currency "${f.currency}" is not supported (CNY, USD, EUR, HKD, JPY)`;
  }
  const currency = f.currency.trim().toUpperCase();
  const list = parseAmount("list_price", f.list_price, currency, false);
  const group = parseAmount("group_price", f.group_price, currency, false);
  if (typeof list === "string") e.list_price = list;
  if (typeof group === "string") e.group_price = group;
  if (typeof list === "bigint" && typeof group === "bigint" && group > list) {
    e.group_price = "group_price must not be above list_price";
  }
  const stock = whole(f.stock);
  if (stock === null || stock < 1 || stock > MAX_STOCK) e.stock = `stock must be 1 to ${MAX_STOCK}`;
  const limit = f.per_user_limit.trim() === "" ? 1 : whole(f.per_user_limit);
  if (limit === null) e.per_user_limit = "per_user_limit must be a whole number";
  else if (stock !== null && Math.max(limit, 1) > stock) e.per_user_limit = "per_user_limit must not exceed stock";
  const now = BigInt(nowMs) * 1000n;
  const starts = f.starts_at ? micros(f.starts_at) : now;
  const ends = micros(f.ends_at);
  if (starts === null) e.starts_at = "starts_at must be a time";
  if (ends === null) e.ends_at = "ends_at is required";
  else if (starts !== null && ends <= starts) e.ends_at = "ends_at must be after starts_at";
  else if (ends <= now) e.ends_at = "ends_at must be in the future";
  if (f.mode === "team") {
    const size = f.team_size.trim() === "" ? MIN_TEAM_SIZE : whole(f.team_size);
    if (size === null || size < MIN_TEAM_SIZE || size > MAX_TEAM_SIZE) {
      e.team_size = `team_size must be ${MIN_TEAM_SIZE} to ${MAX_TEAM_SIZE}`;
    }
    const window = f.team_window_secs.trim() === "" ? 86400 : whole(f.team_window_secs);
    if (window === null || window < 1 || window > MAX_TEAM_WINDOW_SECS) {
      e.team_window_secs = `team_window_secs must be 1 to ${MAX_TEAM_WINDOW_SECS}`;
    }
    if (f.leader_discount.trim() !== "") {
      const discount = parseAmount("leader_discount", f.leader_discount, currency, true);
      if (typeof discount === "string") e.leader_discount = discount;
      else if (typeof group === "bigint" && discount >= group) {
        e.leader_discount = "leader_discount must be below group_price";
      }
    }
  } else {
    const min = whole(f.min_buyers);
    if (min === null || min < 1 || (stock !== null && min > stock)) e.min_buyers = "min_buyers must be 1 to stock";
  }
  return e;
}

/**
 * The form field a server message is about. The services name the proto field first
 * ("group_price must not be above list_price", `currency "XYZ" is not supported`); messages
 * about no single field ("mode is required") go to `fallback`.
 */
export function fieldOf<K extends string>(message: string, fields: readonly K[], fallback: K): K {
  const first = message.trim().split(/[\s:]/, 1)[0] ?? "";
  if ((fields as readonly string[]).includes(first)) return first as K;
  // "ends_at" is "ends_at" in the message but the form may name it differently; also cover
  // "a campaign is either team or tipping" and "mode is required".
  if (/\b(team or tipping|mode)\b/.test(message) && (fields as readonly string[]).includes("mode")) return "mode" as K;
  return fallback;
}
