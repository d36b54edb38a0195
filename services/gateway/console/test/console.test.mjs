// The merchant console in headless Chromium (Debian's /usr/bin/chromium via playwright-core)
// against the running stack (gateway on 127.0.0.1:50050 serving /console/, demo data seeded):
//   1. the merchant signs in and is shown as verified;
//   2. a rule the page checks itself (group price above list price) is shown by its field;
//   3. the merchant launches a team campaign and watches it;
//   4. buyers in another browser context open and join a team over gRPC-Web, and the first
//      page shows each new member live, without a reload;
//   5. pause, resume;
//   6. with the page's own checks off (?check=server), the server's refusal of a team size
//      appears next to the team size field;
//   7. the campaign is ended; a tipping campaign counts a buyer's commitment live;
//   8. a new user applies for verification (a server refusal first, by its field) and sees the
//      application pending;
//   9. the merchant opens its public account, gains a follower, broadcasts (broadcasts left
//      drop by one, the follower's inbox gets it), and once the month's quota is used up the
//      server's refusal appears next to the message;
//  10. in a fresh browser, "My campaigns" lists the merchant's campaigns from the server,
//      ended ones too, newest first.
// A screenshot per step goes to test-output/screens. Run: make console-test.

import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT = join(HERE, "..", "test-output");
const SCREENS = join(OUT, "screens");
const BUYER_JS = join(OUT, "buyer", "buyer.js");
const BASE = process.env.TUAN_CONSOLE_URL ?? "http://127.0.0.1:50050/console/index.html";
const PASSWORD = "tuan-demo-2026";

/** The code of the last SMS to `phone`, as the development sender wrote it: `tuanctl sms`. */
async function smsCode(phone) {
  const tuanctl = process.env.TUAN_CONSOLE_TUANCTL ?? join(HERE, "../../../../target/debug/tuanctl");
  const database = process.env.TUAN_CONSOLE_USERS_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/tuan_users";
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      return execFileSync(tuanctl, ["sms", phone, "--code-only", "--database-url", database], { encoding: "utf8" }).trim();
    } catch {
      await new Promise((r) => setTimeout(r, 100)); // sending is asynchronous
    }
  }
  throw new Error(`no sign-up code for ${phone}: tuanctl sms ${phone}`);
}
const MERCHANT = "+8613800000001";
const ALICE = "+8613800000002";
const BOB = "+8613800000003";
const CAROL = "+8613800000004";
const LIVE_MS = 15_000;

rmSync(SCREENS, { recursive: true, force: true });
mkdirSync(SCREENS, { recursive: true });

let shot = 0;
async function screenshot(page, name) {
  shot += 1;
  const file = join(SCREENS, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`  screenshot ${file}`);
}

const steps = [];
async function step(name, f) {
  const t0 = Date.now();
  try {
    await f();
    steps.push({ name, ok: true, ms: Date.now() - t0 });
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (err) {
    steps.push({ name, ok: false });
    console.log(`FAIL ${name}: ${err.stack ?? err}`);
    throw err;
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
let failed = false;
try {
  // Buyers stand in for the mobile app: they run the test's own client bundle injected into a
  // console page, which the console's Content-Security-Policy rightly refuses (inline script),
  // so only their contexts bypass it. The merchant's pages keep the policy.
  const buyerContext = (options = {}) => browser.newContext({ ...options, bypassCSP: true });
  const merchantContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await merchantContext.newPage();
  page.on("pageerror", (e) => console.log(`  page error: ${e.message}`));
  page.on("dialog", (d) => d.accept());
  const stamp = Date.now().toString(36);
  const title = `Console test ${stamp}`;
  let campaignId = "";
  let tippingId = "";
  let accountId = "";
  const broadcastsLeft = async (p) => {
    const [left, quota] = (await p.getByTestId("broadcasts-left").textContent()).split(" / ").map(Number);
    return { left, quota };
  };

  await step("merchant signs in", async () => {
    // A link that names another gateway is not followed by the built console: the password
    // goes to the page's own origin (port 9 would refuse it), and is refused there.
    await page.goto(`${BASE}?gateway=http://127.0.0.1:9`);
    await page.locator('input[name="phone"]').fill(MERCHANT);
    await page.locator('input[name="password"]').fill("wrong-password-1");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("wrong phone or password").waitFor();
    await screenshot(page, "sign-in-refused");
    await page.locator('input[name="password"]').fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("merchant-status").getByText("verified merchant").waitFor();
    // The refresh token stays in the page's memory, out of storage a script could read.
    const stored = await page.evaluate(() => Object.values(sessionStorage).join(" "));
    assert.ok(stored.includes("accessToken") && !stored.includes("refreshToken"), stored);
    await screenshot(page, "signed-in");
  });

  const form = page.getByTestId("launch-form");
  await step("a rule checked in the page shows by its field", async () => {
    await form.locator('[name="title"]').fill(title);
    await form.locator('[name="list_price"]').fill("10.00");
    await form.locator('[name="group_price"]').fill("12.00");
    await form.getByRole("button", { name: "Launch" }).click();
    const error = page.getByTestId("error-group_price");
    await error.getByText("group_price must not be above list_price").waitFor();
    // Next to its own input, inside the same field.
    const fieldName = await error.evaluate((e) => e.closest(".field")?.getAttribute("data-field"));
    assert.equal(fieldName, "group_price");
    await screenshot(page, "client-error-group-price");
  });

  await step("merchant launches a team campaign and watches it", async () => {
    await form.locator('[name="group_price"]').fill("8.80");
    await form.locator('[name="team_size"]').fill("3");
    await form.locator('[name="stock"]').fill("50");
    await form.getByRole("button", { name: "Launch" }).click();
    await page.getByTestId("live-title").getByText(title).waitFor();
    await page.locator(".dot.on").waitFor({ timeout: LIVE_MS });
    assert.equal(await page.getByTestId("members-joined").textContent(), "0");
    campaignId = await page.locator(`[data-campaign]`, { hasText: title }).getAttribute("data-campaign");
    assert.ok(campaignId, "the new campaign is listed");
    await screenshot(page, "campaign-launched");
  });

  await step("buyers join in another browser context; the page shows each member live", async () => {
    await page.evaluate(() => (window.__noReload = true));
    const buyers = await buyerContext();
    const buyer = await buyers.newPage();
    await buyer.goto(BASE);
    await buyer.addScriptTag({ path: BUYER_JS });
    // Alice opens a team: the merchant's page shows one member.
    const teamId = await buyer.evaluate(
      async ([phone, password, id]) => {
        await window.tuanBuyer.login(phone, password);
        return window.tuanBuyer.openTeam(id);
      },
      [ALICE, PASSWORD, campaignId],
    );
    assert.ok(teamId, "a team was opened");
    await page.getByTestId("members-joined").getByText("1", { exact: true }).waitFor({ timeout: LIVE_MS });
    await page.locator(`[data-team="${teamId}"]`).getByText("1/3").waitFor({ timeout: LIVE_MS });
    await screenshot(page, "leader-live");
    // Bob joins Alice's team once her hold is placed: two members, still the same page.
    const joined = await buyer.evaluate(
      async ([phone, password, team]) => {
        await window.tuanBuyer.login(phone, password);
        if (!(await window.tuanBuyer.waitJoinable(team))) return "not joinable";
        return window.tuanBuyer.joinTeam(team);
      },
      [BOB, PASSWORD, teamId],
    );
    assert.notEqual(joined, "not joinable", "the leader's hold was placed");
    await page.getByTestId("members-joined").getByText("2", { exact: true }).waitFor({ timeout: LIVE_MS });
    await page.locator(`[data-team="${teamId}"]`).getByText("2/3").waitFor({ timeout: LIVE_MS });
    assert.equal(await page.evaluate(() => window.__noReload), true, "the page was not reloaded");
    assert.equal(await page.getByTestId("stock-left").textContent(), "48 / 50");
    await screenshot(page, "member-joined-live");
    await buyers.close();
  });

  await step("merchant pauses and resumes", async () => {
    await page.getByRole("button", { name: "Pause" }).click();
    await page.getByTestId("campaign-status").getByText("paused").waitFor();
    await screenshot(page, "paused");
    await page.getByRole("button", { name: "Resume" }).click();
    await page.getByTestId("campaign-status").getByText("active").waitFor();
  });

  await step("merchant opens its public account", async () => {
    const panel = page.locator('[data-testid="open-account-form"], [data-testid="account-name"]').first();
    await panel.waitFor();
    if (await page.getByTestId("open-account-form").isVisible()) {
      const open = page.getByTestId("open-account-form");
      // The page's own check, under its field.
      await open.getByRole("button", { name: "Open public account" }).click();
      await open.getByTestId("error-account_name").getByText("account name must not be empty").waitFor();
      await screenshot(page, "account-name-required");
      await open.locator('[name="account_name"]').fill(`Orchard ${stamp}`);
      await open.locator('[name="account_description"]').fill("Fruit from Hainan, picked this week");
      await open.getByRole("button", { name: "Open public account" }).click();
      await page.getByTestId("account-name").getByText(`Orchard ${stamp}`).waitFor();
      assert.equal(await page.getByTestId("followers").textContent(), "0");
      const { left, quota } = await broadcastsLeft(page);
      assert.ok(quota > 0 && left === quota, `a new account has its whole quota: ${left} / ${quota}`);
    } else {
      console.log("  (the merchant already runs a public account: using it)");
    }
    accountId = await page.getByTestId("account-name").getAttribute("data-account");
    assert.ok(accountId, "the account's id is on the panel");
    await screenshot(page, "account-opened");
  });

  await step("a follower counts, and a broadcast lowers broadcasts left and reaches the follower", async () => {
    const buyers = await buyerContext();
    const buyer = await buyers.newPage();
    await buyer.goto(BASE);
    await buyer.addScriptTag({ path: BUYER_JS });
    const following = await buyer.evaluate(
      async ([phone, password, id]) => {
        await window.tuanBuyer.login(phone, password);
        return window.tuanBuyer.followAccount(id);
      },
      [ALICE, PASSWORD, accountId],
    );
    assert.equal(following, true);
    const followersBefore = Number(await page.getByTestId("followers").textContent());
    await page.getByTestId("account-refresh").click();
    await page
      .getByTestId("followers")
      .getByText(String(Math.max(followersBefore, 1)), { exact: true })
      .waitFor({ timeout: LIVE_MS });
    const { left, quota } = await broadcastsLeft(page);
    assert.ok(left > 0, "a broadcast is left this month");
    const text = `Mangoes ${stamp}: 8.80 in teams of 3`;
    const form = page.getByTestId("broadcast-form");
    await form.locator('[name="text"]').fill(text);
    await form.locator('[name="card"]').selectOption(campaignId);
    await form.getByRole("button", { name: "Send broadcast" }).click();
    await page.getByTestId("broadcast-sent").getByText("Broadcast sent").waitFor();
    assert.equal(await page.getByTestId("broadcasts-left").textContent(), `${left - 1} / ${quota}`);
    assert.equal(await form.locator('[name="text"]').inputValue(), "", "the message box is emptied");
    await screenshot(page, "broadcast-sent");
    // Delivered by fan-out through the broker: the follower's inbox gets it.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const inbox = await buyer.evaluate(() => window.tuanBuyer.inboxTexts());
      if (inbox.includes(text)) break;
      assert.ok(Date.now() < deadline, `the broadcast never reached the follower's inbox: ${JSON.stringify(inbox)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    await buyers.close();
  });

  await step("on a phone-sized screen", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const [overflow, culprits] = await page.evaluate(() => [
      document.documentElement.scrollWidth - window.innerWidth,
      [...document.querySelectorAll("body *")]
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
        .slice(0, 5)
        .map((e) => `${e.tagName.toLowerCase()}.${e.className}`),
    ]);
    assert.ok(overflow <= 0, `no sideways scrolling (${overflow}px too wide: ${culprits.join(", ")})`);
    await screenshot(page, "phone");
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  await step("a form error from the server appears next to its field", async () => {
    await page.goto(`${BASE}?check=server`);
    const serverForm = page.getByTestId("launch-form");
    await serverForm.locator('[name="title"]').fill(`${title} too big`);
    await serverForm.locator('[name="list_price"]').fill("10.00");
    await serverForm.locator('[name="group_price"]').fill("8.00");
    await serverForm.locator('[name="team_size"]').fill("51");
    await serverForm.getByRole("button", { name: "Launch" }).click();
    const error = page.getByTestId("error-team_size");
    await error.getByText("team_size must be 2 to 50").waitFor();
    const fieldName = await error.evaluate((e) => e.closest(".field")?.getAttribute("data-field"));
    assert.equal(fieldName, "team_size");
    assert.equal(await page.getByTestId("error-title").textContent(), "", "only the field concerned");
    await screenshot(page, "server-error-team-size");
  });

  await step("the used-up broadcast quota is refused by the server, next to the message", async () => {
    // Still with the page's own checks off (?check=server): the refusal is the server's.
    const form = page.getByTestId("broadcast-form");
    await form.waitFor();
    let { left, quota } = await broadcastsLeft(page);
    assert.ok(left <= 20, `at most 20 broadcasts to send first (${left} left)`);
    for (; left > 0; left--) {
      await form.locator('[name="text"]').fill(`Offer ${stamp} #${left}`);
      await form.getByRole("button", { name: "Send broadcast" }).click();
      await page.getByTestId("broadcasts-left").getByText(`${left - 1} / ${quota}`, { exact: true }).waitFor();
    }
    await form.locator('[name="text"]').fill(`One too many ${stamp}`);
    await form.getByRole("button", { name: "Send broadcast" }).click();
    const error = page.getByTestId("error-text");
    await error.getByText(`broadcast quota of ${quota} per calendar month is used up`).waitFor();
    const fieldName = await error.evaluate((e) => e.closest(".field")?.getAttribute("data-field"));
    assert.equal(fieldName, "text");
    assert.equal(await page.getByTestId("broadcasts-left").textContent(), `0 / ${quota}`);
    await screenshot(page, "broadcast-quota-used-up");
  });

  await step("merchant ends the campaign", async () => {
    await page.locator(`[data-campaign="${campaignId}"]`).click();
    await page.getByTestId("live-title").getByText(title).waitFor();
    await page.getByRole("button", { name: "End", exact: true }).click();
    await page.getByTestId("campaign-status").getByText("ended").waitFor();
    await screenshot(page, "ended");
  });

  await step("a tipping campaign counts a buyer's commitment live", async () => {
    await page.goto(BASE);
    const tippingForm = page.getByTestId("launch-form");
    await tippingForm.getByLabel("Tipping").check();
    await tippingForm.locator('[name="title"]').fill(`${title} tipping`);
    await tippingForm.locator('[name="list_price"]').fill("20.00");
    await tippingForm.locator('[name="group_price"]').fill("15.00");
    await tippingForm.locator('[name="stock"]').fill("20");
    await tippingForm.locator('[name="min_buyers"]').fill("2");
    await tippingForm.getByRole("button", { name: "Launch" }).click();
    await page.getByTestId("live-title").getByText(`${title} tipping`).waitFor();
    await page.locator(".dot.on").waitFor({ timeout: LIVE_MS });
    assert.equal(await page.getByTestId("buyers").textContent(), "0 buyers, tips at 2");
    tippingId = await page.locator("[data-campaign]", { hasText: `${title} tipping` }).getAttribute("data-campaign");
    const buyers = await buyerContext();
    const buyer = await buyers.newPage();
    await buyer.goto(BASE);
    await buyer.addScriptTag({ path: BUYER_JS });
    const joinId = await buyer.evaluate(
      async ([phone, password, id]) => {
        await window.tuanBuyer.login(phone, password);
        return window.tuanBuyer.joinCampaign(id);
      },
      [CAROL, PASSWORD, tippingId],
    );
    assert.ok(joinId, "the buyer committed");
    // Counted once the buyer's hold is placed.
    await page.getByTestId("buyers").getByText("1 buyer, tips at 2").waitFor({ timeout: 60_000 });
    await page.locator('[data-testid="joins-chart"][data-joins="1"]').waitFor({ timeout: LIVE_MS });
    assert.equal(await page.getByTestId("tipping-state").textContent(), "not yet");
    assert.equal(await page.getByTestId("stock-left").textContent(), "19 / 20");
    await screenshot(page, "tipping-live");
    await buyers.close();
  });

  await step("my campaigns come from the server, ended ones too, in a fresh browser", async () => {
    // A new context: no session and nothing remembered by the page; the list is the server's.
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const fresh = await context.newPage();
    await fresh.goto(BASE);
    await fresh.locator('input[name="phone"]').fill(MERCHANT);
    await fresh.locator('input[name="password"]').fill(PASSWORD);
    await fresh.getByRole("button", { name: "Sign in" }).click();
    await fresh.getByTestId("merchant-status").getByText("verified merchant").waitFor();
    const list = fresh.getByTestId("my-campaigns");
    await list.waitFor();
    const listed = () => list.locator("[data-campaign]").evaluateAll((els) => els.map((e) => e.dataset.campaign));
    for (let pages = 0; !(await listed()).includes(campaignId); pages++) {
      assert.ok(pages < 10 && (await fresh.getByTestId("more-campaigns").isVisible()), "the ended campaign is listed");
      await fresh.getByTestId("more-campaigns").click();
    }
    const ids = await listed();
    assert.ok(ids.indexOf(tippingId) >= 0 && ids.indexOf(tippingId) < ids.indexOf(campaignId), "newest first");
    const line = (id) => list.locator("li", { has: fresh.locator(`[data-campaign="${id}"]`) });
    await line(campaignId).locator(".badge").getByText("ended").waitFor();
    await line(tippingId).locator(".badge").getByText("active").waitFor();
    await screenshot(fresh, "my-campaigns-fresh-browser");
    // The tipping campaign's chart shows the join made before this page was opened: the
    // history comes from the server, not from what the page saw.
    await line(tippingId).locator("[data-campaign]").click();
    await fresh.getByTestId("live-title").getByText(`${title} tipping`).waitFor();
    await fresh.locator('[data-testid="joins-chart"][data-joins="1"]').waitFor({ timeout: LIVE_MS });
    await screenshot(fresh, "tipping-history-fresh-browser");
    await context.close();
  });

  await step("a new user applies for verification and sees it pending", async () => {
    const context = await buyerContext({ viewport: { width: 390, height: 844 } });
    const newcomer = await context.newPage();
    await newcomer.goto(`${BASE}?check=server`);
    await newcomer.addScriptTag({ path: BUYER_JS });
    const phone = `+86139${String(Date.now()).slice(-8)}`;
    await newcomer.evaluate((p) => window.tuanBuyer.requestSignUpCode(p), phone);
    const code = await smsCode(phone);
    await newcomer.evaluate(([p, c, pw]) => window.tuanBuyer.signUp(p, c, pw, "Newcomer"), [phone, code, PASSWORD]);
    await newcomer.locator('input[name="phone"]').fill(phone);
    await newcomer.locator('input[name="password"]').fill(PASSWORD);
    await newcomer.getByRole("button", { name: "Sign in" }).click();
    await newcomer.getByTestId("merchant-status").getByText("not a merchant").waitFor();
    await newcomer.locator('[name="business_name"]').fill("Newcomer Noodles");
    await newcomer.locator('[name="license_number"]').fill("ab!");
    await newcomer.locator('[name="category"]').fill("noodles");
    await newcomer.getByRole("button", { name: "Apply for verification" }).click();
    await newcomer.getByTestId("error-license_number").getByText("license_number must be").waitFor();
    await screenshot(newcomer, "apply-server-error");
    await newcomer.locator('[name="license_number"]').fill("91310000-NOODLE");
    await newcomer.getByRole("button", { name: "Apply for verification" }).click();
    await newcomer.getByTestId("merchant-status").getByText("application pending review").waitFor();
    await screenshot(newcomer, "apply-pending");
    await context.close();
  });
} catch {
  failed = true;
} finally {
  await browser.close();
}
const passed = steps.filter((s) => s.ok).length;
console.log(`\n${passed} of ${steps.length} steps passed${failed ? " (stopped at the first failure)" : ""}; screenshots in ${SCREENS}`);
process.exit(failed ? 1 : 0);
