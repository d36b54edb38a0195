// The gateway client: generated messages and service descriptor (src/gen, `npm run generate`)
// over gRPC-Web. The page is served by the gateway, so the API is on the page's own origin.
// Only the development server (`npm run dev`) takes `?gateway=http://host:port` to talk to
// another one: in a build the branch is compiled out, so a link to the real console with
// `?gateway=https://evil.example` cannot send a merchant's password and tokens elsewhere.

import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { MobileGateway } from "./gen/tuan/gateway/v1/gateway_pb";

const TOKEN_KEY = "tuan.console.session";

export interface Session {
  userId: string;
  accessToken: string;
  refreshToken: string;
}

// The refresh token (30 days of access) lives in this module's memory only, never in storage a
// script could read later: an injected script or a shared computer finds at most the access
// token, which expires within 15 minutes. The price: a reload keeps the session only until the
// access token expires, then asks for the password again.
type Stored = Omit<Session, "refreshToken">;
const stored: Stored | null = JSON.parse(sessionStorage.getItem(TOKEN_KEY) ?? "null");
let session: Session | null = stored ? { ...stored, refreshToken: "" } : null;

export function currentSession(): Session | null {
  return session;
}

export function setSession(s: Session | null): void {
  session = s;
  if (s) sessionStorage.setItem(TOKEN_KEY, JSON.stringify({ userId: s.userId, accessToken: s.accessToken } satisfies Stored));
  else sessionStorage.removeItem(TOKEN_KEY);
}

const bearer: Interceptor = (next) => async (req) => {
  if (session) req.header.set("authorization", `Bearer ${session.accessToken}`);
  return next(req);
};

function baseUrl(): string {
  if (import.meta.env.DEV) {
    const override = new URLSearchParams(location.search).get("gateway");
    if (override) return override;
  }
  return location.origin;
}

const transport = createGrpcWebTransport({ baseUrl: baseUrl(), interceptors: [bearer] });
export const gateway = createClient(MobileGateway, transport);

/** Calls `f`; on UNAUTHENTICATED (an expired access token) refreshes once and retries. */
export async function authed<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    const e = ConnectError.from(err);
    if (e.code !== Code.Unauthenticated || !session?.refreshToken) throw err;
    const tokens = await gateway.refresh({ refreshToken: session.refreshToken });
    setSession({ userId: tokens.userId, accessToken: tokens.accessToken, refreshToken: tokens.refreshToken });
    return f();
  }
}

/** The message to show for a failed call: the server's own words, or what the code means. */
export function describe(err: unknown): { code: Code; message: string } {
  const e = ConnectError.from(err);
  const message = e.rawMessage || Code[e.code] || "request failed";
  if (e.code === Code.Unavailable) return { code: e.code, message: `service unavailable: ${message}` };
  // The gateway's rate limit says when to retry; a quota (e.g. broadcasts per month) does not,
  // and its own words say what ran out.
  if (e.code === Code.ResourceExhausted && e.metadata.has("retry-after-ms")) {
    return { code: e.code, message: "too many requests; try again shortly" };
  }
  return { code: e.code, message };
}

export { Code, ConnectError };
