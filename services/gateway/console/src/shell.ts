// The signed-in console: the header (who, sign out) and the grid of cards. Every merchant gets
// the merchant-verification card; a verified one also gets the live view, its campaigns, the
// launch form and the public account.

import { authed, currentSession, gateway, setSession } from "./api";
import { renderAccount } from "./account-panel";
import { renderCampaigns } from "./campaigns";
import { h, root } from "./dom";
import { renderLaunch } from "./launch";
import { renderMerchant } from "./merchant";
import { MerchantStatus, type User } from "./gen/tuan/users/v1/users_pb";

/** `onSignedOut` shows the sign-in screen (wired in main.ts). */
export async function consoleView(onSignedOut: () => void): Promise<void> {
  let me: User;
  try {
    me = await authed(() => gateway.getMe({}));
  } catch {
    setSession(null);
    return onSignedOut();
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
          onSignedOut();
        },
      },
      "Sign out",
    ),
  );
  const merchant = h("section", { class: "card", id: "merchant" });
  const main = h("main", { class: "grid" }, merchant);
  root.replaceChildren(header, main);
  renderMerchant(merchant, me);
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
