// The live view of one campaign: WatchCampaign's stream (re-opened with back-off), the teams,
// stats and campaign re-read after each change, the tiles, the joins chart, and pause / resume
// / end. One campaign is watched at a time (`stopWatching`).

import { authed, Code, describe, gateway } from "./api";
import { historyTimes, joinsChart } from "./chart";
import { CAMPAIGN_STATUS, fmtTime, h, short, type Child } from "./dom";
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

export function stopWatching(): void {
  watching?.abort();
  watching = null;
}

export async function watch(box: HTMLElement, campaignId: string): Promise<void> {
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
