// What the test's buyer contexts run in their page: the same generated client as the console,
// bundled on its own (buyer.vite.config.ts) and exposed as `window.tuanBuyer`, so a buyer joins
// a team over gRPC-Web from a real browser context without hand-encoding anything.

import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { MobileGateway } from "../src/gen/tuan/gateway/v1/gateway_pb";
import { TeamStatus } from "../src/gen/tuan/groupbuy/v1/groupbuy_pb";
import { PhoneCodePurpose } from "../src/gen/tuan/users/v1/users_pb";

let token = "";
const bearer: Interceptor = (next) => (req) => {
  if (token) req.header.set("authorization", `Bearer ${token}`);
  return next(req);
};
const gw = createClient(MobileGateway, createGrpcWebTransport({ baseUrl: location.origin, interceptors: [bearer] }));

export async function login(phone: string, password: string): Promise<string> {
  const t = await gw.login({ phone, password });
  token = t.accessToken;
  return t.userId;
}

/**
 * Sends a purchase (a call that places a hold) with one idempotency key, and sends it again
 * with the same key while the answer is lost to the network or a busy server, as the app
 * does: the server answers the first join every time, so a retry never buys twice.
 */
async function purchase<T>(send: (idempotencyKey: string) => Promise<T>): Promise<T> {
  const idempotencyKey = crypto.randomUUID();
  for (let attempt = 1; ; attempt++) {
    try {
      return await send(idempotencyKey);
    } catch (e) {
      const code = e instanceof ConnectError ? e.code : Code.Unknown;
      const transient = code === Code.Unavailable || code === Code.Aborted || code === Code.DeadlineExceeded;
      if (!transient || attempt >= 5) throw e;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}

/** Opens a team as its leader; answers the team id. */
export async function openTeam(campaignId: string): Promise<string> {
  const r = await purchase((idempotencyKey) => gw.openTeam({ campaignId, idempotencyKey }));
  return r.team?.teamId ?? "";
}

/** Waits until the leader's hold is placed and the team can be joined. */
export async function waitJoinable(teamId: string, timeoutMs = 60_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const t = await gw.getTeam({ teamId });
    if (t.joinable && t.status === TeamStatus.OPEN) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

export async function joinTeam(teamId: string): Promise<string> {
  const r = await purchase((idempotencyKey) => gw.joinTeam({ teamId, idempotencyKey }));
  return r.join?.joinId ?? "";
}

/** Asks for the SMS code a sign-up needs (the test reads it from the development sender). */
export async function requestSignUpCode(phone: string): Promise<void> {
  await gw.requestPhoneCode({ phone, purpose: PhoneCodePurpose.SIGN_UP });
}

/** A new account (answers its user id); the helper then calls as that user. */
export async function signUp(phone: string, code: string, password: string, displayName: string): Promise<string> {
  const t = await gw.signUp({ phone, code, password, displayName, region: "CN-31" });
  token = t.accessToken;
  return t.userId;
}

/** Tipping mode: commits to one unit. */
export async function joinCampaign(campaignId: string): Promise<string> {
  const r = await purchase((idempotencyKey) => gw.joinCampaign({ campaignId, idempotencyKey }));
  return r.join?.joinId ?? "";
}

/** Follows a public account. */
export async function followAccount(accountId: string): Promise<boolean> {
  const f = await gw.followAccount({ accountId });
  return f.following;
}

/** The texts of the newest broadcasts in the caller's inbox. */
export async function inboxTexts(): Promise<string[]> {
  const page = await gw.listInbox({ page: { limit: 20, cursor: "" } });
  return page.items.map((i) => i.text);
}
