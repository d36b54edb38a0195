// The merchant console: sign in, merchant verification, campaigns (launch, pause, resume,
// end) and a live view of one campaign fed by WatchCampaign. Plain DOM, no framework.

import "./style.css";
import { authed, Code, currentSession, describe, gateway, setSession } from "./api";
import { joinsChart } from "./chart";
import { fieldOf, micros, validateCampaign, type CampaignForm, type FieldErrors } from "./validate";
import { MerchantStatus, type User } from "./gen/tuan/users/v1/users_pb";
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
          if (s) await gateway.logout({ refreshToken: s.refreshToken }).catch(() => undefined);
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
    renderAccount(account);
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

const KNOWN = () => `tuan.console.campaigns.${me!.userId}`;
const known = (): string[] => JSON.parse(localStorage.getItem(KNOWN()) ?? "[]");
function remember(id: string): void {
  localStorage.setItem(KNOWN(), JSON.stringify([id, ...known().filter((k) => k !== id)].slice(0, 50)));
}

const CAMPAIGN_STATUS: Record<number, string> = {
  [CampaignStatus.ACTIVE]: "active",
  [CampaignStatus.PAUSED]: "paused",
  [CampaignStatus.ENDED]: "ended",
};

/**
 * The merchant's campaigns: active ones from ListActiveCampaigns, plus those this browser
 * launched or opened (the gateway has no "my campaigns" call, so ended ones come from there).
 */
async function renderCampaigns(box: HTMLElement, live: HTMLElement, select?: string): Promise<void> {
  box.replaceChildren(h("h2", {}, "My campaigns"), h("p", { class: "muted" }, "Loading…"));
  const byId = new Map<string, Campaign>();
  try {
    const page = await authed(() => gateway.listActiveCampaigns({ page: { limit: 100 } }));
    for (const c of page.campaigns) if (c.merchantId === me!.userId) byId.set(c.campaignId, c);
  } catch (err) {
    box.append(h("p", { class: "error" }, describe(err).message));
  }
  await Promise.all(
    known()
      .filter((id) => !byId.has(id))
      .map((id) =>
        authed(() => gateway.getCampaign({ campaignId: id }))
          .then((c) => byId.set(id, c))
          .catch(() => undefined),
      ),
  );
  const items = [...byId.values()].sort((a, b) => Number(b.startsAtMicros - a.startsAtMicros));
  const list = h("ul", { class: "campaigns" });
  for (const c of items) {
    list.append(
      h(
        "li",
        {},
        h(
          "button",
          { class: "link", "data-campaign": c.campaignId, onclick: () => watch(live, c.campaignId) },
          c.title,
        ),
        " ",
        h("span", { class: `badge c${c.status}` }, CAMPAIGN_STATUS[c.status] ?? "?"),
        h("span", { class: "muted" }, ` ${c.mode === CampaignMode.TEAM ? "team" : "tipping"} · ${c.stockLeft}/${c.stock} left`),
      ),
    );
  }
  box.replaceChildren(h("h2", {}, "My campaigns"), items.length ? list : h("p", { class: "muted" }, "None yet."));
  if (select) void watch(live, select);
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
      remember(c.campaignId);
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
  /** Tipping joins seen while watching (no API lists them), in ms. */
  tippingJoins: number[];
  connected: boolean;
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
  remember(campaignId);
  let state: LiveState;
  try {
    const campaign = await authed(() => gateway.getCampaign({ campaignId }));
    state = { campaign, teams: [], tippingJoins: [], connected: false };
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
        const before = state.progress?.confirmedBuyers ?? p.confirmedBuyers;
        for (let i = before; i < p.confirmedBuyers; i++) state.tippingJoins.push(Date.now());
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
  const joinTimes = isTeam
    ? s.teams.flatMap((t) => t.members.map((m) => Number(m.joinedAtMicros / 1000n)))
    : s.tippingJoins;
  const money = (v?: string) => (v ? `${v} ${s.stats?.currency || c.currency}` : "-");
  const tiles = h(
    "div",
    { class: "tiles" },
    tile("Stock left", `${s.progress?.stockLeft ?? c.stockLeft} / ${c.stock}`, "stock-left"),
    isTeam
      ? tile("Teams open", String(s.progress?.teamsOpen ?? s.teams.filter((t) => t.status === TeamStatus.OPEN).length), "teams-open")
      : tile("Buyers", `${s.progress?.confirmedBuyers ?? c.confirmedBuyers} / ${c.minBuyers}`, "buyers"),
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
    teams.append(
      h(
        "li",
        { "data-team": t.teamId },
        h("span", { class: "mono" }, short(t.teamId)),
        h("span", { class: `badge t${t.status}` }, TEAM_STATUS[t.status] ?? "?"),
        h("span", { class: "bar" }, h("i", { style: `width:${pct}%` })),
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
    joinsChart(joinTimes, Date.now()),
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

function renderAccount(box: HTMLElement): void {
  box.replaceChildren(
    h("h2", {}, "Public account"),
    h(
      "p",
      { class: "muted", "data-testid": "account-missing" },
      "Followers, broadcasts left this month and sending a broadcast need the circles service's " +
        "OpenPublicAccount, GetPublicAccount and Broadcast, which the gateway does not pass through yet.",
    ),
  );
}

// ---------- start ----------

if (currentSession()) void consoleView();
else signIn();
