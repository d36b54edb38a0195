// Merchant verification: the status, the application on file, and the form to apply (again).

import { authed, Code, describe, gateway } from "./api";
import { clientChecks, field, fmtTime, formError, h, showErrors, value } from "./dom";
import { fieldOf } from "./validate";
import { MerchantStatus, type User } from "./gen/tuan/users/v1/users_pb";

const STATUS_TEXT: Record<number, string> = {
  [MerchantStatus.UNSPECIFIED]: "not a merchant",
  [MerchantStatus.NONE]: "not a merchant",
  [MerchantStatus.PENDING]: "application pending review",
  [MerchantStatus.VERIFIED]: "verified merchant",
  [MerchantStatus.REJECTED]: "application rejected",
};

export async function renderMerchant(box: HTMLElement, me: User): Promise<void> {
  const status = me.merchantStatus;
  box.replaceChildren(
    h("h2", {}, "Merchant"),
    h("p", {}, "Status: ", h("span", { class: `badge s${status}`, "data-testid": "merchant-status" }, STATUS_TEXT[status])),
  );
  if (status !== MerchantStatus.NONE && status !== MerchantStatus.UNSPECIFIED) {
    try {
      const a = await authed(() => gateway.getMerchantApplication({}));
      box.append(
        h("p", { class: "muted" }, `${a.businessName} · licence ${a.licenseNumber} · applied ${fmtTime(a.appliedAtMicros)}`),
      );
      if (a.rejectionReason) box.append(h("p", { class: "error" }, `Reason: ${a.rejectionReason}`));
    } catch {
      /* the status line says enough */
    }
  }
  if (status === MerchantStatus.VERIFIED || status === MerchantStatus.PENDING) return;
  const names = ["business_name", "license_number", "contact_phone", "category"] as const;
  const form = h(
    "form",
    { novalidate: true },
    field("business_name", "Business name", h("input", {})),
    field("license_number", "Licence number", h("input", {}), "5 to 32 letters, digits or '-'"),
    field("contact_phone", "Contact phone", h("input", { type: "tel", value: me.phoneE164 })),
    field("category", "Category", h("input", { placeholder: "fruit" })),
    h("button", { type: "submit" }, status === MerchantStatus.REJECTED ? "Apply again" : "Apply for verification"),
    h("p", { class: "form-error", role: "alert" }),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const v = Object.fromEntries(names.map((n) => [n, value(form, n).trim()])) as Record<(typeof names)[number], string>;
    const errors: Record<string, string> = {};
    if (clientChecks) {
      if (!v.business_name || v.business_name.length > 100) errors.business_name = "business_name must have 1 to 100 characters";
      if (!/^[A-Za-z0-9-]{5,32}$/.test(v.license_number)) errors.license_number = "license_number must be 5 to 32 letters, digits or '-'";
      if (!/^\+\d{8,15}$/.test(v.contact_phone)) errors.contact_phone = "phone must be in international form, e.g. +8613800138000";
      if (!v.category || v.category.length > 50) errors.category = "category must have 1 to 50 characters";
    }
    showErrors(form, errors);
    if (Object.keys(errors).length) return;
    try {
      await authed(() =>
        gateway.applyMerchant({
          businessName: v.business_name,
          licenseNumber: v.license_number,
          contactPhone: v.contact_phone,
          category: v.category,
        }),
      );
      renderMerchant(box, await authed(() => gateway.getMe({})));
    } catch (err) {
      const { code, message } = describe(err);
      if (code === Code.InvalidArgument) {
        const f = fieldOf(message.replace(/^phone/, "contact_phone"), names, "business_name");
        showErrors(form, { [f]: message });
      } else formError(form, message);
    }
  });
  box.append(form);
}
