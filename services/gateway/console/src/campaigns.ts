// "My campaigns": the merchant's own campaigns, a page at a time; a click opens the live view.

import { authed, describe, gateway } from "./api";
import { CAMPAIGN_STATUS, h } from "./dom";
import { watch } from "./live";
import { CampaignMode, type Campaign } from "./gen/tuan/groupbuy/v1/groupbuy_pb";

const MY_CAMPAIGNS_PAGE = 20;

/** A page of the merchant's own campaigns (every status, newest first), from the server. */
export async function myCampaigns(cursor = ""): Promise<{ campaigns: Campaign[]; nextCursor: string }> {
  return authed(() => gateway.listMyCampaigns({ page: { limit: MY_CAMPAIGNS_PAGE, cursor } }));
}

/**
 * The merchant's campaigns, as the group-buy service lists them (ListMyCampaigns): paused and
 * ended ones too, whichever browser launched them; "Show more" reads the next page.
 */
export async function renderCampaigns(box: HTMLElement, live: HTMLElement, select?: string): Promise<void> {
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
