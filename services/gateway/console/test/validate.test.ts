// The page's campaign checks agree with the group-buy service's rules (CampaignSpec::parse,
// Price::parse), and server messages find their field. Run: npm run test:unit.

import { test } from "node:test";
import assert from "node:assert/strict";
import { fieldOf, parseAmount, validateCampaign, type CampaignForm } from "../src/validate";

const NOW = Date.parse("2026-12-01T12:00:00");
const valid: CampaignForm = {
  mode: "team",
  title: "Hainan mangoes",
  description: "",
  list_price: "39.90",
  group_price: "29.90",
  currency: "CNY",
  stock: "100",
  per_user_limit: "1",
  starts_at: "",
  ends_at: "2026-12-08T12:00",
  team_size: "3",
  team_window_secs: "86400",
  leader_discount: "",
  min_buyers: "10",
};
const check = (change: Partial<CampaignForm>) => validateCampaign({ ...valid, ...change }, NOW);

test("a valid team and tipping campaign pass", () => {
  assert.deepEqual(check({}), {});
  assert.deepEqual(check({ mode: "tipping", min_buyers: "100" }), {});
});

test("group price may equal but not exceed the list price", () => {
  assert.deepEqual(check({ group_price: "39.90" }), {});
  assert.equal(check({ group_price: "39.91" }).group_price, "group_price must not be above list_price");
});

test("team size is 2 to 50", () => {
  assert.equal(check({ team_size: "1" }).team_size, "team_size must be 2 to 50");
  assert.equal(check({ team_size: "51" }).team_size, "team_size must be 2 to 50");
  assert.deepEqual(check({ team_size: "50" }), {});
  assert.deepEqual(check({ team_size: "" }), {}, "empty means the default 2");
});

test("the end is after the start and in the future", () => {
  assert.equal(check({ starts_at: "2026-12-09T12:00" }).ends_at, "ends_at must be after starts_at");
  // As on the server: an empty start is now, so a past end is first "not after the start".
  assert.equal(check({ ends_at: "2026-11-30T12:00" }).ends_at, "ends_at must be after starts_at");
  const past = { starts_at: "2026-11-29T12:00", ends_at: "2026-11-30T12:00" };
  assert.equal(check(past).ends_at, "ends_at must be in the future");
  assert.equal(check({ ends_at: "" }).ends_at, "ends_at is required");
});

test("amounts: decimals within the currency's minor unit, exact, never floats", () => {
  assert.equal(parseAmount("list_price", "0.10", "CNY", false), 10n);
  assert.equal(parseAmount("list_price", "1.005", "CNY", false), "list_price has more than 2 decimal places for CNY");
  assert.equal(parseAmount("list_price", "100.0", "JPY", false), 100n);
  assert.equal(parseAmount("list_price", "100.5", "JPY", false), "list_price has more than 0 decimal places for JPY");
  assert.equal(parseAmount("list_price", "0", "CNY", false), "list_price must be positive");
  assert.equal(parseAmount("leader_discount", "0", "CNY", true), 0n);
  assert.equal(parseAmount("list_price", "-1", "CNY", false), "list_price must not be negative");
  assert.equal(parseAmount("list_price", "1e3", "CNY", false), 'list_price must be a decimal amount like "33.30"');
  assert.equal(parseAmount("list_price", "100000000.01", "CNY", false), "list_price is too large");
});

test("stock, per-buyer limit, minimum buyers, leader discount, currency, title", () => {
  assert.equal(check({ stock: "0" }).stock, "stock must be 1 to 10000000");
  assert.equal(check({ stock: "5", per_user_limit: "6" }).per_user_limit, "per_user_limit must not exceed stock");
  assert.equal(check({ mode: "tipping", min_buyers: "101" }).min_buyers, "min_buyers must be 1 to stock");
  assert.equal(check({ leader_discount: "29.90" }).leader_discount, "leader_discount must be below group_price");
  assert.match(check({ currency: "XYZ" }).currency ?? "", /not supported/);
  assert.match(check({ title: "  " }).title ?? "", /^title must have 1 to 100/);
  assert.match(check({ title: "a\u0000b" }).title ?? "", /control characters/);
  assert.equal(check({ team_window_secs: "0" }).team_window_secs, "team_window_secs must be 1 to 2592000");
});

test("server messages land on the field they name", () => {
  const fields = ["mode", "title", "group_price", "currency", "team_size"] as const;
  assert.equal(fieldOf("group_price must not be above list_price", fields, "title"), "group_price");
  assert.equal(fieldOf('currency "XYZ" is not supported (CNY, USD, EUR, HKD, JPY)', fields, "title"), "currency");
  assert.equal(fieldOf("team_size must be 2 to 50", fields, "title"), "team_size");
  assert.equal(fieldOf("mode is required: team or tipping", fields, "title"), "mode");
  assert.equal(fieldOf("only a verified merchant may launch a campaign", fields, "title"), "title");
});
