// Signing in. Development: pick a person of the org directory and the console mints a
// token for them. Production: the company's OIDC provider (/auth/login), which sends the
// browser back to the page it started from with the token in the URL fragment.

import { get, post, saveToken } from "./api.js";
import { card, fill, formError, h, onSubmit } from "./dom.js";
import { roleLabel, t } from "./i18n.js";
import { session } from "./session.js";

const GROUPS = [
  ["group_sales", ["sales_rep", "group_lead", "sales_manager", "sales_director"]],
  ["group_tech", ["tech_engineer", "tech_lead", "tech_director"]],
  ["group_logistics", ["logistics", "logistics_lead"]],
  ["group_other", null],
];

function groupOf(person) {
  for (const [key, roles] of GROUPS) {
    if (!roles || person.roles.some((role) => roles.includes(role))) return key;
  }
  return "group_other";
}

export async function screen(ctx) {
  ctx.title(t("sign_in_title"));
  const next = ctx.query.get("next") || "/";
  const box = h("div", { class: "signin" });
  ctx.view.append(box);
  const notice = ctx.query.get("expired")
    ? h("p", { class: "banner", role: "alert" }, t("sign_in_expired"))
    : null;
  if (session.config?.mode !== "development") {
    fill(
      box,
      card(
        t("sign_in_title"),
        notice,
        h("p", {}, t("sign_in_oidc_hint")),
        h(
          "a",
          {
            class: "button primary",
            href: `/auth/login?next=${encodeURIComponent(next)}`,
            id: "oidc-sign-in",
          },
          t("sign_in_oidc"),
        ),
      ),
    );
    return;
  }
  const people = await get("/auth/people");
  const search = h("input", {
    type: "search",
    name: "q",
    placeholder: t("sign_in_search"),
    "aria-label": t("sign_in_search"),
    autocomplete: "off",
  });
  const groups = h("div", { class: "people" });
  const form = h("form", { class: "pick", "data-key": "signin" }, formError(), search, groups);
  const draw = () => {
    const wanted = search.value.trim().toLowerCase();
    const shown = people.filter(
      (p) => !wanted || p.name.toLowerCase().includes(wanted) || p.id.includes(wanted),
    );
    fill(
      groups,
      GROUPS.map(([key]) => {
        const members = shown.filter((p) => groupOf(p) === key);
        if (!members.length) return null;
        return h(
          "fieldset",
          { class: "people-group" },
          h("legend", {}, t(key)),
          members.map((p) =>
            h(
              "button",
              {
                type: "submit",
                class: "person",
                name: "person_id",
                value: p.id,
                "data-person-id": p.id,
              },
              h("strong", {}, p.name),
              h("small", {}, p.roles.map(roleLabel).join(" · ")),
            ),
          ),
        );
      }),
    );
  };
  search.addEventListener("input", draw);
  draw();
  onSubmit(form, async (submitter) => {
    const personId = submitter?.value;
    if (!personId) return;
    const minted = await post("/auth/dev-token", { person_id: personId });
    saveToken(minted.token);
    await ctx.signedIn(next);
  });
  fill(
    box,
    card(t("sign_in_title"), notice, h("p", { class: "hint" }, t("sign_in_dev_hint")), form),
  );
}
