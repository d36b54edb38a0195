// Checks of the public-account forms, mirroring the circles service's text rules
// (services/circles/src/domain/text.rs: trimmed, counted in characters, no control characters
// but line breaks) and its monthly broadcast quota, in the server's own words, so a message
// from either side lands next to the same input. The server stays the authority.

export const ACCOUNT_NAME_MAX = 64;
export const DESCRIPTION_MAX = 500;
export const TEXT_MAX = 2000;

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** The server's `bounded`: the error message, or undefined when the text is fine. */
function bounded(field: string, input: string, min: number, max: number): string | undefined {
  const chars = [...input.trim()];
  if (chars.length < min) return `${field} must not be empty`;
  if (chars.length > max) return `${field} must have at most ${max} characters, got ${chars.length}`;
  if (chars.some((c) => c !== "\n" && CONTROL.test(c))) return `${field} must not contain control characters`;
  return undefined;
}

export type AccountField = "account_name" | "account_description";
export type BroadcastField = "text" | "card";

/** OpenPublicAccount: a name of 1 to 64 characters, a description of at most 500. */
export function validateAccount(f: { name: string; description: string }): Partial<Record<AccountField, string>> {
  const errors: Partial<Record<AccountField, string>> = {};
  const name = bounded("account name", f.name, 1, ACCOUNT_NAME_MAX);
  const description = bounded("description", f.description, 0, DESCRIPTION_MAX);
  if (name) errors.account_name = name;
  if (description) errors.account_description = description;
  return errors;
}

/** Broadcasts left this month out of the quota (never below zero). */
export function broadcastsLeft(sentThisMonth: number, quota: number): number {
  return Math.max(quota - sentThisMonth, 0);
}

export function quotaMessage(quota: number): string {
  return `broadcast quota of ${quota} per calendar month is used up`;
}

/**
 * Broadcast: text of at most 2000 characters, not empty unless a deal card goes with it, and
 * a broadcast left this month (the server counts the month in UTC).
 */
export function validateBroadcast(
  f: { text: string; card: string },
  left: number,
  quota: number,
): Partial<Record<BroadcastField, string>> {
  const text = bounded("text", f.text, 0, TEXT_MAX);
  if (text) return { text };
  if (f.text.trim() === "" && f.card === "") return { text: "a post needs text or a card" };
  if (left <= 0) return { text: quotaMessage(quota) };
  return {};
}

/** The field a server refusal of OpenPublicAccount concerns ("form" when none). */
export function accountFieldOf(message: string): AccountField | "form" {
  if (message.startsWith("account name")) return "account_name";
  if (message.startsWith("description")) return "account_description";
  return "form";
}

/** The field a server refusal of Broadcast concerns: the quota is the message's. */
export function broadcastFieldOf(message: string): BroadcastField | "form" {
  if (/^(text\b|a post needs)/.test(message) || /broadcast quota/.test(message)) return "text";
  if (message.startsWith("card")) return "card";
  return "form";
}
