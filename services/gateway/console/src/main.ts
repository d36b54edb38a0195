// The merchant console: sign in, merchant verification, campaigns (the merchant's own from
// ListMyCampaigns; launch, pause, resume, end), a live view of one campaign fed by
// WatchCampaign, and the public account (followers, broadcasts left this month, broadcasting).
// Plain DOM, no framework.

import "./style.css";
import { authed, Code, currentSession, describe, gateway, setSession } from "./api";
import { historyTimes, joinsChart } from "./chart";
import { fieldOf, micros, validateCampaign, type CampaignForm, type FieldErrors } from "./validate";
import {
  accountFieldOf,
  broadcastFieldOf,
  broadcastsLeft,
  validateAccount,
  validateBroadcast,
} from "./account";
import { MerchantStatus, type User } from "./gen/tuan/users/v1/users_pb";
import type { PublicAccount } from "./gen/tuan/circles/v1/circles_pb";
import {
  CampaignMode,
  CampaignStatus,
  TeamStatus,
  TippingState,
  type Campaign,
  type CampaignProgress,
  type CampaignStats,
  type Team,
} from "./gen/tuan/groupbuy/v1/groupbuy_pb";

const root = document.getElementById("app")!;
const params = new URLSearchParams(location.search);
/** `?check=server` sends the form unchecked, to see the server's own refusals. */
const clientChecks = params.get("check") !== "server";

// ---------- tiny DOM helpers ----------

type Child = Node | string | null | undefined | false;
function h<K extends keyof HTMLElementTagNameMap>(
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
function field(name: string, label: string, input: HTMLElement, hint?: string): HTMLElement {
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

function showErrors(form: HTMLElement, errors: Record<string, string | undefined>): void {
  form.querySelectorAll<HTMLElement>(".field").forEach((f) => {
    const msg = errors[f.dataset.field!] ?? "";
    f.classList.toggle("invalid", msg !== "");
    f.querySelector(".error")!.textContent = msg;
  });
}

function formError(form: HTMLElement, message: string): void {
  form.querySelector(".form-error")!.textContent = message;
}

function value(form: HTMLElement, name: string): string {
  const el = form.querySelector<HTMLInputElement>(`[name="${name}"]`);
  if (!el) return "";
  if (el.type === "radio") return form.querySelector<HTMLInputElement>(`[name="${name}"]:checked`)?.value ?? "";
  return el.value;
}

const fmtTime = (us: bigint) => (us ? new Date(Number(us / 1000n)).toLocaleString() : "-");
const short = (id: string) => id.slice(0, 8);

// ---------- sign in ----------

function signIn(): void {
  stopWatching();
  const form = h(
    "form",
    { class: "card narrow", novalidate: true },
    h("h1", {}, "tuan merchant console"),
    field("phone", "Phone", h("input", { type: "tel", autocomplete: "username", placeholder: "+8613800000001" })),
    field("password", "Password", h("input", { type: "password", autocomplete: "current-password" })),
    h("button", { type: "submit" }, "Sign in"),
    h("p", { class: "form-error", role: "alert" }),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const phone = value(form, "phone").trim();
    const password = value(form, "password");
    const errors: Record<string, string> = {};
    if (!/^\+\d{8,15}$/.test(phone)) errors.phone = "phone must be in international form, e.g. +8613800138000";
    if (!password) errors.password = "password is required";
    showErrors(form, errors);
    formError(form, "");
    if (Object.keys(errors).length) return;
    try {
      const t = await gateway.login({ phone, password });
      setSession({ userId: t.userId, accessToken: t.accessToken, refreshToken: t.refreshToken });
      void consoleView();
    } catch (err) {
      const { code, message } = describe(err);
      if (code === Code.Unauthenticated) formError(form, "wrong phone or password");
      else showErrors(form, { [fieldOf(message, ["phone", "password"], "phone")]: message });
    }
  });
  root.replaceChildren(form);
}

// ---------- the console ----------

let me: User | null = null;

async function consoleView(): Promise<void> {
  try {
    me = await authed(() => gateway.getMe({}));
  } catch {
    setSession(null);
    return signIn();
  }
  const header = h(
    "header",
    { class: "top" },
    h("strong", {}, "tuan"),
    h("span", { class: "who", "data-testid": "who" }, `${me.displayName} · ${me.phoneE164}`),
    h(
      "button",
      {
        class: "link",
        onclick: async () => {
          const s = currentSession();
          if (s?.refreshToken) await gateway.logout({ refreshToken: s.refreshToken }).catch(() => undefined);
          setSession(null);
          signIn();
        },
      },
      "Sign out",
    ),
  );
  const merchant = h("section", { class: "card", id: "merchant" });
  const main = h("main", { class: "grid" }, merchant);
  root.replaceChildren(header, main);
  renderMerchant(merchant);
  if (me.merchantStatus === MerchantStatus.VERIFIED) {
    const list = h("section", { class: "card", id: "campaigns" });
    const launch = h("section", { class: "card", id: "launch" });
    const live = h("section", { class: "card wide", id: "live" }, h("p", { class: "muted" }, "Pick a campaign."));
    const account = h("section", { class: "card", id: "account" });
    main.append(live, list, launch, account);
    renderLaunch(launch, list, live);
    void renderAccount(account);
    await renderCampaigns(list, live);
  }
}

// ---------- merchant verification ----------

const STATUS_TEXT: Record<number, string> = {
  [MerchantStatus.UNSPECIFIED]: "not a merchant",
  [MerchantStatus.NONE]: "not a merchant",
  [MerchantStatus.PENDING]: "application pending review",
  [MerchantStatus.VERIFIED]: "verified merchant",
  [MerchantStatus.REJECTED]: "application rejected",
};

async function renderMerchant(box: HTMLElement): Promise<void> {
  const status = me!.merchantStatus;
  box.replaceChildren(
    h("h2", {}, "Merchant"),
    h("p", {}, "Status: ", h("span", { class: `badge s${status}`, "data-testid": "merchant-status" }, STATUS_TEXT[status])),
  );
  if (status !== MerchantStatus.NONE && status !== MerchantStatus.UNSPECIFIED) {
    try {
      const a = await authed(() => gateway.getMerchantApplication({}));
      box.append(
        h("p", { class: "muted" }, `${a.businessName} · licence ${a.licenseNumber} · applied ${fmtTime(a.appliedAtMicros)}`),
      );
      if (a.rejectionReason) box.append(h("p", { class: "error" }, `Reason: ${a.rejectionReason}`));
    } catch {
      /* the status line says enough */
    }
  }
  if (status === MerchantStatus.VERIFIED || status === MerchantStatus.PENDING) return;
  const names = ["business_name", "license_number", "contact_phone", "category"] as const;
  const form = h(
    "form",
    { novalidate: true },
    field("business_name", "Business name", h("input", {})),
    field("license_number", "Licence number", h("input", {}), "5 to 32 letters, digits or '-'"),
    field("contact_phone", "Contact phone", h("input", { type: "tel", value: me!.phoneE164 })),
    field("category", "Category", h("input", { placeholder: "fruit" })),
    h("button", { type: "submit" }, status === MerchantStatus.REJECTED ? "Apply again" : "Apply for verification"),
    h("p", { class: "form-error", role: "alert" }),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const v = Object.fromEntries(names.map((n) => [n, value(form, n).trim()])) as Record<(typeof names)[number], string>;
    const errors: Record<string, string> = {};
    if (clientChecks) {
      if (!v.business_name || v.business_name.length > 100) errors.business_name = "business_name must have 1 to 100 characters";
      if (!/^[A-Za-z0-9-]{5,32}$/.test(v.license_number)) errors.license_number = "license_number must be 5 to 32 letters, digits or '-'";
      if (!/^\+\d{8,15}$/.test(v.contact_phone)) errors.contact_phone = "phone must be in international form, e.g. +8613800138000";
      if (!v.category || v.category.length > 50) errors.category = "category must have 1 to 50 characters";
    }
    showErrors(form, errors);
    if (Object.keys(errors).length) return;
    try {
      await authed(() =>
        gateway.applyMerchant({
          businessName: v.business_name,
          licenseNumber: v.license_number,
          contactPhone: v.contact_phone,
          category: v.category,
        }),
      );
      me = await authed(() => gateway.getMe({}));
      renderMerchant(box);
    } catch (err) {
      const { code, message } = describe(err);
      if (code === Code.InvalidArgument) {
        const f = fieldOf(message.replace(/^phone/, "contact_phone"), names, "business_name");
        showErrors(form, { [f]: message });
      } else formError(form, message);
    }
  });
  box.append(form);
}

// ---------- campaign list ----------

const CAMPAIGN_STATUS: Record<number, string> = {
  [CampaignStatus.ACTIVE]: "active",
  [CampaignStatus.PAUSED]: "paused",
  [CampaignStatus.ENDED]: "ended",
};

const MY_CAMPAIGNS_PAGE = 20;

/** A page of the merchant's own campaigns (every status, newest first), from the server. */
async function myCampaigns(cursor = ""): Promise<{ campaigns: Campaign[]; nextCursor: string }> {
  return authed(() => gateway.listMyCampaigns({ page: { limit: MY_CAMPAIGNS_PAGE, cursor } }));
}

/**
 * The merchant's campaigns, as the group-buy service lists them (ListMyCampaigns): paused and
 * ended ones too, whichever browser launched them; "Show more" reads the next page.
 */
async function renderCampaigns(box: HTMLElement, live: HTMLElement, select?: string): Promise<void> {
  box.replaceChildren(h("h2", {}, "My campaigns"), h("p", { class: "muted" }, "Loading…"));
  const list = h("ul", { class: "campaigns", "data-testid": "my-campaigns" });
  const more = h("button", { class: "link", "data-testid": "more-campaigns", hidden: true }, "Show more");
  const error = h("p", { class: "error", role: "alert" });
  let cursor = "";
  const load = async () => {
    try {
      const page = await myCampaigns(cursor);
      for (const c of page.campaigns) list.append(campaignLine(c, live));
      cursor = page.nextCursor;
      error.textContent = "";
    } catch (err) {
      error.textContent = describe(err).message;
    }
    more.hidden = cursor === "";
  };
  more.addEventListener("click", async () => {
    more.disabled = true;
    await load();
    more.disabled = false;
  });
  await load();
  const empty = h("p", { class: "muted" }, "None yet.");
  box.replaceChildren(h("h2", {}, "My campaigns"), list.children.length || error.textContent ? list : empty, more, error);
  if (select) void watch(live, select);
}

function campaignLine(c: Campaign, live: HTMLElement): HTMLElement {
  return h(
    "li",
    {},
    h("button", { class: "link", "data-campaign": c.campaignId, onclick: () => watch(live, c.campaignId) }, c.title),
    " ",
    h("span", { class: `badge c${c.status}` }, CAMPAIGN_STATUS[c.status] ?? "?"),
    h("span", { class: "muted" }, ` ${c.mode === CampaignMode.TEAM ? "team" : "tipping"} · ${c.stockLeft}/${c.stock} left`),
  );
}

// ---------- launch ----------

function localInput(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

const FORM_FIELDS: (keyof CampaignForm)[] = [
  "mode", "title", "description", "list_price", "group_price", "currency", "stock", "per_user_limit",
  "starts_at", "ends_at", "team_size", "team_window_secs", "leader_discount", "min_buyers",
];

function renderLaunch(box: HTMLElement, list: HTMLElement, live: HTMLElement): void {
  const currency = h("select", {}, ...["CNY", "USD", "EUR", "HKD", "JPY"].map((c) => h("option", { value: c }, c)));
  const mode = h(
    "div",
    { class: "modes", role: "radiogroup" },
    h("label", {}, h("input", { type: "radio", name: "mode", value: "team", checked: true }), " Team"),
    h("label", {}, h("input", { type: "radio", name: "mode", value: "tipping" }), " Tipping (min. buyers)"),
  );
  const modeField = h("div", { class: "field", "data-field": "mode" }, mode, h("small", { class: "error", "data-testid": "error-mode", role: "alert" }));
  const team = h(
    "fieldset",
    { class: "team-only" },
    field("team_size", "Team size", h("input", { type: "number", min: "2", max: "50", value: "2", inputmode: "numeric" }), "2 to 50"),
    field("team_window_secs", "Team window (seconds)", h("input", { type: "number", min: "1", value: "86400", inputmode: "numeric" })),
    field("leader_discount", "Leader discount", h("input", { inputmode: "decimal", placeholder: "optional, e.g. 1.00" })),
  );
  const tipping = h(
    "fieldset",
    { class: "tipping-only", hidden: true },
    field("min_buyers", "Minimum buyers", h("input", { type: "number", min: "1", value: "10", inputmode: "numeric" })),
  );
  const form = h(
    "form",
    { novalidate: true, "data-testid": "launch-form" },
    h("h2", {}, "Launch a campaign"),
    modeField,
    field("title", "Title", h("input", { maxlength: "100" })),
    field("description", "Description", h("textarea", { rows: "2" })),
    h(
      "div",
      { class: "row" },
      field("list_price", "List price", h("input", { inputmode: "decimal", placeholder: "39.90" })),
      field("group_price", "Group price", h("input", { inputmode: "decimal", placeholder: "29.90" })),
      field("currency", "Currency", currency),
    ),
    h(
      "div",
      { class: "row" },
      field("stock", "Stock", h("input", { type: "number", min: "1", value: "100", inputmode: "numeric" })),
      field("per_user_limit", "Per buyer", h("input", { type: "number", min: "1", value: "1", inputmode: "numeric" })),
    ),
    h(
      "div",
      { class: "row" },
      field("starts_at", "Starts", h("input", { type: "datetime-local" }), "empty: now"),
      field("ends_at", "Ends", h("input", { type: "datetime-local", value: localInput(new Date(Date.now() + 7 * 86400e3)) })),
    ),
    team,
    tipping,
    h("button", { type: "submit" }, "Launch"),
    h("p", { class: "form-error", role: "alert" }),
  );
  const showMode = () => {
    const isTeam = value(form, "mode") === "team";
    team.hidden = !isTeam;
    tipping.hidden = isTeam;
  };
  mode.addEventListener("change", showMode);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = Object.fromEntries(FORM_FIELDS.map((n) => [n, value(form, n)])) as unknown as CampaignForm;
    const errors: FieldErrors = clientChecks ? validateCampaign(f) : {};
    showErrors(form, errors);
    formError(form, "");
    if (Object.keys(errors).length) return;
    const num = (s: string) => (s.trim() === "" ? 0 : Number(s));
    try {
      const c = await authed(() =>
        gateway.launchCampaign({
          title: f.title,
          description: f.description,
          listPrice: f.list_price.trim(),
          groupPrice: f.group_price.trim(),
          currency: f.currency,
          stock: num(f.stock),
          perUserLimit: num(f.per_user_limit),
          startsAtMicros: micros(f.starts_at) ?? 0n,
          endsAtMicros: micros(f.ends_at) ?? 0n,
          mode:
            f.mode === "team"
              ? {
                  case: "team",
                  value: {
                    teamSize: num(f.team_size),
                    teamWindowSecs: BigInt(num(f.team_window_secs) || 0),
                    leaderDiscount: f.leader_discount.trim(),
                  },
                }
              : { case: "tipping", value: { minBuyers: num(f.min_buyers) } },
        }),
      );
      form.reset();
      showMode();
      await renderCampaigns(list, live, c.campaignId);
    } catch (err) {
      const { code, message } = describe(err);
      if (code === Code.InvalidArgument) {
        showErrors(form, { [fieldOf(message, FORM_FIELDS, "title")]: message });
      } else formError(form, message);
    }
  });
  box.replaceChildren(form);
}

// ---------- live view ----------

interface LiveState {
  campaign: Campaign;
  progress?: CampaignProgress;
  stats?: CampaignStats;
  teams: Team[];
  connected: boolean;
}

/** "5 buyers, tips at 1": a count and the threshold, not a fraction. */
function buyersLabel(buyers: number, minBuyers: number): string {
  return `${buyers} ${buyers === 1 ? "buyer" : "buyers"}, tips at ${minBuyers}`;
}

let watching: AbortController | null = null;

function stopWatching(): void {
  watching?.abort();
  watching = null;
}

async function watch(box: HTMLElement, campaignId: string): Promise<void> {
  stopWatching();
  const abort = new AbortController();
  watching = abort;
  let state: LiveState;
  try {
    const campaign = await authed(() => gateway.getCampaign({ campaignId }));
    state = { campaign, teams: [], connected: false };
  } catch (err) {
    box.replaceChildren(h("p", { class: "error" }, describe(err).message));
    return;
  }
  const draw = () => !abort.signal.aborted && renderLive(box, state);
  let pending: ReturnType<typeof setTimeout> | null = null;
  // Teams and stats are read again after a change, at most every 250 ms.
  const refresh = () => {
    if (pending) return;
    pending = setTimeout(async () => {
      pending = null;
      const [teams, stats, campaign] = await Promise.all([
        allTeams(campaignId).catch(() => state.teams),
        authed(() => gateway.getCampaignStats({ campaignId })).catch(() => state.stats),
        authed(() => gateway.getCampaign({ campaignId })).catch(() => state.campaign),
      ]);
      Object.assign(state, { teams, stats, campaign });
      draw();
    }, 250);
  };
  draw();
  refresh();
  // The stream: a snapshot, then one message per change; reconnect when it drops.
  let backoff = 500;
  while (!abort.signal.aborted) {
    try {
      for await (const p of gateway.watchCampaign({ campaignId }, { signal: abort.signal })) {
        backoff = 500;
        state.progress = p;
        state.connected = true;
        draw();
        refresh();
      }
    } catch (err) {
      if (abort.signal.aborted) return;
      if (describe(err).code === Code.Unauthenticated) await authed(() => Promise.reject(err)).catch(() => undefined);
    }
    state.connected = false;
    draw();
    await new Promise((r) => setTimeout(r, backoff));
    backoff = Math.min(backoff * 2, 10_000);
  }
}

async function allTeams(campaignId: string): Promise<Team[]> {
  const teams: Team[] = [];
  let cursor = "";
  for (let i = 0; i < 20; i++) {
    const page = await authed(() => gateway.listCampaignTeams({ campaignId, page: { limit: 100, cursor } }));
    teams.push(...page.teams);
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  return teams;
}

const TIPPING: Record<number, string> = {
  [TippingState.PENDING]: "not yet",
  [TippingState.TIPPED]: "tipped",
  [TippingState.FAILED]: "failed",
};

const TEAM_STATUS: Record<number, string> = {
  [TeamStatus.PENDING]: "pending",
  [TeamStatus.OPEN]: "open",
  [TeamStatus.COMPLETED]: "completed",
  [TeamStatus.EXPIRED]: "expired",
  [TeamStatus.FAILED]: "failed",
};

function tile(label: string, v: string, testid: string): HTMLElement {
  return h("div", { class: "tile" }, h("span", { class: "muted" }, label), h("b", { "data-testid": testid }, v));
}

function renderLive(box: HTMLElement, s: LiveState): void {
  const c = s.campaign;
  const status = s.progress?.status ?? c.status;
  const isTeam = c.mode === CampaignMode.TEAM;
  const members = s.teams.reduce((n, t) => n + t.members.length, 0);
  const act = (label: string, call: () => Promise<Campaign>, confirmText?: string) =>
    h(
      "button",
      {
        "data-action": label.toLowerCase(),
        onclick: async (ev: Event) => {
          if (confirmText && !confirm(confirmText)) return;
          const b = ev.currentTarget as HTMLButtonElement;
          b.disabled = true;
          try {
            s.campaign = await authed(call);
            if (s.progress) s.progress.status = s.campaign.status;
            renderLive(box, s);
          } catch (err) {
            b.disabled = false;
            box.querySelector(".form-error")!.textContent = describe(err).message;
          }
        },
      },
      label,
    );
  const id = { campaignId: c.campaignId };
  const actions = h(
    "div",
    { class: "actions" },
    status === CampaignStatus.ACTIVE && act("Pause", () => gateway.pauseCampaign(id)),
    status === CampaignStatus.PAUSED && act("Resume", () => gateway.resumeCampaign(id)),
    status !== CampaignStatus.ENDED && act("End", () => gateway.endCampaign(id), "End this campaign for good?"),
  );
  // The campaign's whole history from the server (joins per bucket since its start), read
  // again after every change the stream reports, so it extends live.
  const history = s.stats ? historyTimes(s.stats.historyStartedAtMicros, s.stats.historyBucketMicros, s.stats.joinsPerBucket) : [];
  const chartStart = Number(c.startsAtMicros / 1000n);
  const chartEnd = Math.min(Date.now(), Number(c.endsAtMicros / 1000n));
  const money = (v?: string) => (v ? `${v} ${s.stats?.currency || c.currency}` : "-");
  const tiles = h(
    "div",
    { class: "tiles" },
    tile("Stock left", `${s.progress?.stockLeft ?? c.stockLeft} / ${c.stock}`, "stock-left"),
    isTeam
      ? tile("Teams open", String(s.progress?.teamsOpen ?? s.teams.filter((t) => t.status === TeamStatus.OPEN).length), "teams-open")
      : tile("Buyers", buyersLabel(s.progress?.confirmedBuyers ?? c.confirmedBuyers, c.minBuyers), "buyers"),
    isTeam
      ? tile("Members joined", String(members), "members-joined")
      : tile("Tipping", TIPPING[s.progress?.tipping ?? c.tipping] ?? "-", "tipping-state"),
    tile("Revenue", money(s.stats?.revenue), "revenue"),
    tile("Units sold", String(s.stats?.unitsSold ?? 0), "units-sold"),
    tile("Pending", String(s.stats?.unitsPending ?? 0), "units-pending"),
  );
  const teams = h("ul", { class: "teams", "data-testid": "teams" });
  for (const t of s.teams) {
    const pct = Math.round((100 * t.members.length) / Math.max(t.teamSize, 1));
    // Set through the CSSOM: the gateway's Content-Security-Policy refuses style attributes.
    const fill = h("i");
    fill.style.width = `${pct}%`;
    teams.append(
      h(
        "li",
        { "data-team": t.teamId },
        h("span", { class: "mono" }, short(t.teamId)),
        h("span", { class: `badge t${t.status}` }, TEAM_STATUS[t.status] ?? "?"),
        h("span", { class: "bar" }, fill),
        h("span", { "data-testid": "team-members" }, `${t.members.length}/${t.teamSize}`),
      ),
    );
  }
  const parts: Child[] = [
    h(
      "div",
      { class: "live-head" },
      h("h2", { "data-testid": "live-title" }, c.title),
      h("span", { class: `badge c${status}`, "data-testid": "campaign-status" }, CAMPAIGN_STATUS[status] ?? "?"),
      h("span", { class: s.connected ? "dot on" : "dot", title: s.connected ? "live" : "reconnecting" }, s.connected ? "live" : "…"),
    ),
    h(
      "p",
      { class: "muted" },
      `${isTeam ? `team of ${c.teamSize}` : `tipping at ${c.minBuyers} buyers`} · ${c.groupPrice} ${c.currency} (list ${c.listPrice})` +
        ` · ends ${fmtTime(c.endsAtMicros)}`,
    ),
    actions,
    h("p", { class: "form-error", role: "alert" }),
    tiles,
    h("h3", {}, "Joins over time"),
    joinsChart(history, chartEnd, chartStart),
    isTeam ? h("h3", {}, `Teams (${s.teams.length})`) : null,
    isTeam ? (s.teams.length ? teams : h("p", { class: "muted" }, "No team yet.")) : null,
  ];
  box.replaceChildren(...parts.filter((p): p is Node | string => !!p));
  // Keep the campaign's line in the list in step with what the stream says.
  const line = document.querySelector(`[data-campaign="${c.campaignId}"]`)?.parentElement;
  const badge = line?.querySelector(".badge");
  if (badge) {
    badge.className = `badge c${status}`;
    badge.textContent = CAMPAIGN_STATUS[status] ?? "?";
    line!.querySelector(".muted")!.textContent = ` ${isTeam ? "team" : "tipping"} · ${s.progress?.stockLeft ?? c.stockLeft}/${c.stock} left`;
  }
}

// ---------- public account ----------

/** The merchant's public account: found with GetPublicAccount naming no account. */
async function renderAccount(box: HTMLElement): Promise<void> {
  box.replaceChildren(h("h2", {}, "Public account"), h("p", { class: "muted" }, "Loading…"));
  try {
    renderAccountPanel(box, await authed(() => gateway.getPublicAccount({ accountId: "" })));
  } catch (err) {
    const { code, message } = describe(err);
    if (code === Code.NotFound) return renderOpenAccount(box);
    box.replaceChildren(
      h("h2", {}, "Public account"),
      h("p", { class: "error", role: "alert" }, message),
      h("button", { class: "link", onclick: () => renderAccount(box) }, "Try again"),
    );
  }
}

function renderOpenAccount(box: HTMLElement): void {
  const form = h(
    "form",
    { novalidate: true, "data-testid": "open-account-form" },
    h("p", { class: "muted" }, "Followers get your broadcasts in their inbox. Open your public account to start."),
    field("account_name", "Account name", h("input", { placeholder: "Hainan Fruit Co." }), "1 to 64 characters"),
    field("account_description", "Description", h("textarea", { rows: "2" }), "optional, up to 500 characters"),
    h("button", { type: "submit" }, "Open public account"),
    h("p", { class: "form-error", role: "alert" }),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = { name: value(form, "account_name"), description: value(form, "account_description") };
    const errors = clientChecks ? validateAccount(f) : {};
    showErrors(form, errors);
    formError(form, "");
    if (Object.keys(errors).length) return;
    const button = form.querySelector("button")!;
    button.disabled = true;
    try {
      const account = await authed(() => gateway.openPublicAccount({ name: f.name.trim(), description: f.description.trim() }));
      renderAccountPanel(box, account);
    } catch (err) {
      button.disabled = false;
      const { code, message } = describe(err);
      const where = code === Code.InvalidArgument ? accountFieldOf(message) : "form";
      if (where === "form") formError(form, message);
      else showErrors(form, { [where]: message });
    }
  });
  box.replaceChildren(h("h2", {}, "Public account"), form);
}

function renderAccountPanel(box: HTMLElement, account: PublicAccount): void {
  let { broadcastsThisMonth: sent, broadcastQuota: quota, followerCount: followers } = account;
  const followersTile = h("b", { "data-testid": "followers" });
  const leftTile = h("b", { "data-testid": "broadcasts-left" });
  const show = () => {
    followersTile.textContent = String(followers);
    leftTile.textContent = `${broadcastsLeft(sent, quota)} / ${quota}`;
  };
  show();
  const card = h("select", {}, h("option", { value: "" }, "none"));
  const sentNote = h("p", { class: "muted", "data-testid": "broadcast-sent", role: "status" });
  const form = h(
    "form",
    { novalidate: true, "data-testid": "broadcast-form" },
    h("h3", {}, "Broadcast to followers"),
    field("text", "Message", h("textarea", { rows: "3" }), "up to 2000 characters; muted followers do not get it"),
    field("card", "Deal card", card, "optional: one of your active campaigns"),
    h("button", { type: "submit" }, "Send broadcast"),
    h("p", { class: "form-error", role: "alert" }),
    sentNote,
  );
  // Deal cards: the merchant's active campaigns (first page of its own).
  myCampaigns()
    .then((page) => {
      for (const c of page.campaigns.filter((c) => c.status === CampaignStatus.ACTIVE)) {
        card.append(h("option", { value: c.campaignId }, c.title));
      }
    })
    .catch(() => undefined);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = { text: value(form, "text"), card: value(form, "card") };
    const errors = clientChecks ? validateBroadcast(f, broadcastsLeft(sent, quota), quota) : {};
    showErrors(form, errors);
    formError(form, "");
    sentNote.textContent = "";
    if (Object.keys(errors).length) return;
    const button = form.querySelector<HTMLButtonElement>("button[type=submit]")!;
    button.disabled = true;
    try {
      const receipt = await authed(() =>
        gateway.broadcast({
          accountId: account.accountId,
          text: f.text.trim(),
          card: f.card ? { target: { case: "campaignId", value: f.card } } : undefined,
        }),
      );
      ({ sentThisMonth: sent, quota } = receipt);
      show();
      (form.querySelector('[name="text"]') as HTMLTextAreaElement).value = "";
      card.value = "";
      sentNote.textContent = `Broadcast sent to your followers (${broadcastsLeft(sent, quota)} left this month).`;
    } catch (err) {
      const { code, message } = describe(err);
      const where = code === Code.InvalidArgument || code === Code.ResourceExhausted ? broadcastFieldOf(message) : "form";
      if (where === "form") formError(form, message);
      else showErrors(form, { [where]: message });
      // A refusal for the quota means the count moved elsewhere (another tab): re-read it.
      if (code === Code.ResourceExhausted) void refresh();
    } finally {
      button.disabled = false;
    }
  });
  const refresh = async () => {
    try {
      const a = await authed(() => gateway.getPublicAccount({ accountId: account.accountId }));
      ({ broadcastsThisMonth: sent, broadcastQuota: quota, followerCount: followers } = a);
      show();
    } catch (err) {
      formError(form, describe(err).message);
    }
  };
  box.replaceChildren(
    h(
      "div",
      { class: "live-head" },
      h("h2", { "data-testid": "account-name", "data-account": account.accountId }, account.name),
      h("button", { class: "link", "data-testid": "account-refresh", onclick: () => refresh() }, "Refresh"),
    ),
    h("p", { class: "muted" }, account.description),
    h(
      "div",
      { class: "tiles" },
      h("div", { class: "tile" }, h("span", { class: "muted" }, "Followers"), followersTile),
      h("div", { class: "tile" }, h("span", { class: "muted" }, "Broadcasts left this month"), leftTile),
    ),
    form,
  );
}

// ---------- start ----------

if (currentSession()) void consoleView();
else signIn();
