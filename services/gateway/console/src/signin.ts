// The sign-in screen: phone and password, then the console (`onSignedIn`, wired in main.ts).

import { Code, describe, gateway, setSession } from "./api";
import { field, formError, h, root, showErrors, value } from "./dom";
import { stopWatching } from "./live";
import { fieldOf } from "./validate";

export function signIn(onSignedIn: () => Promise<void>): void {
  stopWatching();
  const form = h(
    "form",
    { class: "card narrow", novalidate: true },
    h("h1", {}, "tuan merchant console"),
    field("phone", "Phone", h("input", { type: "tel", autocomplete: "username", placeholder: "+8613800000001" })),
    field("password", "Password", h("input", { type: "password", autocomplete: "current-password" })),
    h("button", { type: "submit" }, "Sign in"),
    h("p", { class: "form-error", role: "alert" }),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const phone = value(form, "phone").trim();
    const password = value(form, "password");
    const errors: Record<string, string> = {};
    if (!/^\+\d{8,15}$/.test(phone)) errors.phone = "phone must be in international form, e.g. +8613800138000";
    if (!password) errors.password = "password is required";
    showErrors(form, errors);
    formError(form, "");
    if (Object.keys(errors).length) return;
    try {
      const t = await gateway.login({ phone, password });
      setSession({ userId: t.userId, accessToken: t.accessToken, refreshToken: t.refreshToken });
      void onSignedIn();
    } catch (err) {
      const { code, message } = describe(err);
      if (code === Code.Unauthenticated) formError(form, "wrong phone or password");
      else showErrors(form, { [fieldOf(message, ["phone", "password"], "phone")]: message });
    }
  });
  root.replaceChildren(form);
}
