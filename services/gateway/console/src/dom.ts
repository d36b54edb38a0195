// Shared by every screen of the console: the page's root and its `?check=server` switch, the
// tiny DOM helpers (element creation, labelled fields and their error slots, reading a form),
// and formatting (times, short ids, campaign status labels).

import { CampaignStatus } from "./gen/tuan/groupbuy/v1/groupbuy_pb";

export const root = document.getElementById("app")!;
const params = new URLSearchParams(location.search);
/** `?check=server` sends the form unchecked, to see the server's own refusals. */
export const clientChecks = params.get("check") !== "server";

// ---------- tiny DOM helpers ----------

export type Child = Node | string | null | undefined | false;
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean | ((e: Event) => void)> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === "function") e.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) e.setAttribute(k, "");
    else if (v !== false) e.setAttribute(k, v);
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

/** A labelled input with a slot for its error, found by `data-field`. */
export function field(name: string, label: string, input: HTMLElement, hint?: string): HTMLElement {
  input.id = `f-${name}`;
  input.setAttribute("name", name);
  input.setAttribute("aria-describedby", `err-${name}`);
  return h(
    "div",
    { class: "field", "data-field": name },
    h("label", { for: `f-${name}` }, label),
    input,
    hint ? h("small", { class: "hint" }, hint) : null,
    h("small", { class: "error", id: `err-${name}`, "data-testid": `error-${name}`, role: "alert" }),
  );
}

export function showErrors(form: HTMLElement, errors: Record<string, string | undefined>): void {
  form.querySelectorAll<HTMLElement>(".field").forEach((f) => {
    const msg = errors[f.dataset.field!] ?? "";
    f.classList.toggle("invalid", msg !== "");
    f.querySelector(".error")!.textContent = msg;
  });
}

export function formError(form: HTMLElement, message: string): void {
  form.querySelector(".form-error")!.textContent = message;
}

export function value(form: HTMLElement, name: string): string {
  const el = form.querySelector<HTMLInputElement>(`[name="${name}"]`);
  if (!el) return "";
  if (el.type === "radio") return form.querySelector<HTMLInputElement>(`[name="${name}"]:checked`)?.value ?? "";
  return el.value;
}

// ---------- formatting ----------

export const fmtTime = (us: bigint) => (us ? new Date(Number(us / 1000n)).toLocaleString() : "-");
export const short = (id: string) => id.slice(0, 8);

/** A campaign's status as its badge reads, in the list and the live view. */
export const CAMPAIGN_STATUS: Record<number, string> = {
  [CampaignStatus.ACTIVE]: "active",
  [CampaignStatus.PAUSED]: "paused",
  [CampaignStatus.ENDED]: "ended",
};
