// The public account: open one (when there is none), then followers, broadcasts left this
// month and the broadcast form. Its checks are account.ts's.

import {
  accountFieldOf,
  broadcastFieldOf,
  broadcastsLeft,
  validateAccount,
  validateBroadcast,
} from "./account";
import { authed, Code, describe, gateway } from "./api";
import { myCampaigns } from "./campaigns";
import { clientChecks, field, formError, h, showErrors, value } from "./dom";
import { CampaignStatus } from "./gen/tuan/groupbuy/v1/groupbuy_pb";
import type { PublicAccount } from "./gen/tuan/circles/v1/circles_pb";

/** The merchant's public account: found with GetPublicAccount naming no account. */
export async function renderAccount(box: HTMLElement): Promise<void> {
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
