// The page's public-account checks agree with the circles service's rules (text.rs, the
// monthly quota), and server messages find their field. Run: npm run test:unit.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  accountFieldOf,
  broadcastFieldOf,
  broadcastsLeft,
  validateAccount,
  validateBroadcast,
} from "../src/account";

test("an account needs a name of 1 to 64 characters, counted as characters", () => {
  assert.deepEqual(validateAccount({ name: "Orchard", description: "" }), {});
  assert.deepEqual(validateAccount({ name: "   ", description: "" }), { account_name: "account name must not be empty" });
  assert.deepEqual(validateAccount({ name: "果".repeat(64), description: "" }), {});
  assert.deepEqual(validateAccount({ name: "果".repeat(65), description: "" }), {
    account_name: "account name must have at most 64 characters, got 65",
  });
  assert.deepEqual(validateAccount({ name: "a\u0007b", description: "x".repeat(501) }), {
    account_name: "account name must not contain control characters",
    account_description: "description must have at most 500 characters, got 501",
  });
});

test("a broadcast needs text or a card, at most 2000 characters, and a broadcast left", () => {
  assert.deepEqual(validateBroadcast({ text: "Fresh today", card: "" }, 3, 20), {});
  assert.deepEqual(validateBroadcast({ text: "  ", card: "" }, 3, 20), { text: "a post needs text or a card" });
  assert.deepEqual(validateBroadcast({ text: "", card: "0193" }, 3, 20), {});
  assert.deepEqual(validateBroadcast({ text: "字".repeat(2000), card: "" }, 1, 20), {});
  assert.deepEqual(validateBroadcast({ text: "字".repeat(2001), card: "" }, 1, 20), {
    text: "text must have at most 2000 characters, got 2001",
  });
  // Line breaks are text; other control characters are not.
  assert.deepEqual(validateBroadcast({ text: "a\nb", card: "" }, 1, 20), {});
  assert.deepEqual(validateBroadcast({ text: "a\tb", card: "" }, 1, 20), {
    text: "text must not contain control characters",
  });
  assert.deepEqual(validateBroadcast({ text: "one more", card: "" }, 0, 20), {
    text: "broadcast quota of 20 per calendar month is used up",
  });
});

test("broadcasts left never go below zero", () => {
  assert.equal(broadcastsLeft(0, 20), 20);
  assert.equal(broadcastsLeft(19, 20), 1);
  assert.equal(broadcastsLeft(25, 20), 0);
});

test("server refusals land by the field they concern", () => {
  assert.equal(accountFieldOf("account name must not be empty"), "account_name");
  assert.equal(accountFieldOf("description must have at most 500 characters, got 501"), "account_description");
  assert.equal(accountFieldOf("you already run a public account"), "form");
  assert.equal(broadcastFieldOf("broadcast quota of 20 per calendar month is used up"), "text");
  assert.equal(broadcastFieldOf("a post needs text or a card"), "text");
  assert.equal(broadcastFieldOf("text must have at most 2000 characters, got 2001"), "text");
  assert.equal(broadcastFieldOf('card campaign_id must be a UUID, got "x"'), "card");
  assert.equal(broadcastFieldOf("only the account's owner may broadcast"), "form");
});
