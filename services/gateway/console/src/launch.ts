// "Launch a campaign": the team or tipping form, checked by validate.ts (unless
// `?check=server`); a launch reloads "My campaigns" and watches the new campaign.

import { authed, Code, describe, gateway } from "./api";
import { renderCampaigns } from "./campaigns";
import { clientChecks, field, formError, h, showErrors, value } from "./dom";
import { fieldOf, micros, validateCampaign, type CampaignForm, type FieldErrors } from "./validate";

function localInput(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

const FORM_FIELDS: (keyof CampaignForm)[] = [
  "mode", "title", "description", "list_price", "group_price", "currency", "stock", "per_user_limit",
  "starts_at", "ends_at", "team_size", "team_window_secs", "leader_discount", "min_buyers",
];

export function renderLaunch(box: HTMLElement, list: HTMLElement, live: HTMLElement): void {
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
