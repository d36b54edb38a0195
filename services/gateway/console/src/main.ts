// The merchant console's entry point: wires the screens together and starts on the right one.
// Plain DOM, no framework. Which file holds what:
//   signin.ts         sign in
//   shell.ts          the signed-in console: header (who, sign out) and the grid of cards
//   merchant.ts       merchant verification: status, application, the form to apply
//   campaigns.ts      "My campaigns" (ListMyCampaigns, every status, "Show more")
//   launch.ts         "Launch a campaign" (team or tipping)
//   live.ts           the live view of one campaign (WatchCampaign; pause, resume, end)
//   account-panel.ts  the public account (followers, broadcasts left this month, broadcasting)
//   dom.ts            shared DOM helpers (h, field, showErrors, formError, value), formatting
//   api.ts            the gateway client and the session; validate.ts, account.ts the forms'
//                     checks; chart.ts the joins chart

import "./style.css";
import { currentSession } from "./api";
import { consoleView } from "./shell";
import { signIn } from "./signin";

const showSignIn = (): void => signIn(showConsole);
const showConsole = (): Promise<void> => consoleView(showSignIn);

if (currentSession()) void showConsole();
else showSignIn();
