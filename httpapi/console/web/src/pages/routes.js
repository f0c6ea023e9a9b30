// Gateway routes: a priced route in front of an upstream API, for one of
// the user's accounts (its secret, which signs every forwarded call, shown
// once); the list with each route's public URL; delete.
import * as api from "../api.js";
import { formatUSDC, parseUSDC } from "../usdc.js";
import { action, busy, checkboxes, field, h, invalid, page, paginate, say, secretBox, table, when } from "../ui.js";

// ROUTE_METHODS is openapi.json's RouteRequest.methods enum (a Go test in
// httpapi/console compares them).
export const ROUTE_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

// publicURL is where consumers call a route: /gw/{slug}/ and any path.
const publicURL = (slug) => `${location.origin}/gw/${slug}/…`;

function routeForm(accounts, onCreated) {
  const form = h("form", { novalidate: true },
    field("Slug", "slug", { required: true, minlength: "3", maxlength: "63", pattern: "[a-z0-9][a-z0-9-]*[a-z0-9]", autocapitalize: "none",
      spellcheck: "false", placeholder: "weather-api" }),
    field("Account paid", "accountId", { tag: "select", options: accounts.map((a) => [a.id, `${a.name} (${a.id})`]) }),
    field("Upstream URL", "upstream", { type: "url", required: true, maxlength: "2048", placeholder: "https://api.example.com/v1" }),
    field("Price per call (USDC)", "pricePerCall", { required: true, inputmode: "decimal", placeholder: "0.001" }),
    checkboxes("Methods (none ticked: all)", "methods", ROUTE_METHODS),
    field("Timeout (ms, optional; 30000 when empty)", "timeoutMs", { type: "number", min: "100", max: "120000", inputmode: "numeric" }),
    h("div", { class: "actions" }, h("button", { type: "submit", text: "Create route" })));
  form.addEventListener("submit", busy(form, async (data) => {
    const price = parseUSDC(data.get("pricePerCall"));
    if (price === null) throw invalid("pricePerCall", "a USDC amount with at most 6 decimals");
    const body = { slug: data.get("slug").trim(), accountId: data.get("accountId"), upstream: data.get("upstream").trim(), pricePerCall: price };
    const methods = data.getAll("methods");
    if (methods.length > 0) body.methods = methods;
    const timeout = data.get("timeoutMs").trim();
    if (timeout !== "") {
      if (!/^[0-9]+$/.test(timeout)) throw invalid("timeoutMs", "a whole number of milliseconds, 100 to 120000");
      body.timeoutMs = Number(timeout);
    }
    const route = await api.call("POST", "/v1/routes", body);
    form.reset();
    await onCreated(route);
  }));
  return form;
}

export async function routesPage(created) {
  const [{ data: routes }, { data: accounts }] = await Promise.all([api.call("GET", "/v1/routes"), api.call("GET", "/v1/accounts")]);
  const names = new Map(accounts.map((a) => [a.id, a.name]));
  const remove = (r) => action(async () => {
    if (!confirm(`Delete the route ${r.slug}? Calls to ${publicURL(r.slug)} fail from now on.`)) return;
    await api.call("DELETE", `/v1/routes/${encodeURIComponent(r.slug)}`);
    say(`Route ${r.slug} deleted.`);
    await routesPage();
  });
  const list = routes.length === 0 ? h("p", { text: "No routes yet." }) : paginate(routes, (items) =>
    table("Gateway routes", ["Slug", "Public URL", "Upstream", "Price per call", "Account paid", "Methods", "Timeout", "Created", "Actions"],
      items.map((r) => [h("code", { text: r.slug }), h("code", { class: "mono", text: publicURL(r.slug) }), h("code", { class: "mono", text: r.upstream }),
        `${formatUSDC(r.pricePerCall)} USDC`, `${names.get(r.accountId) ?? ""} ${r.accountId}`.trim(),
        r.methods.length === 0 ? "all" : r.methods.join(", "), `${r.timeoutMs} ms`, when(r.createdAt),
        h("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete ${r.slug}`, onclick: remove(r) })])), "Routes");
  page("Gateway routes",
    h("p", { text: "A route sells calls to your API: consumers call the public URL with a key, pay the price per successful call, and " +
      "Tollway forwards the call to the upstream, signed with the route's secret." }),
    h("div", { id: "secret-slot" }, created ? secretBox(`Secret for the route ${created.slug}`, created.secret, "Route secret") : null),
    h("section", { "aria-labelledby": "routes-h" }, h("h2", { id: "routes-h", text: "Routes" }), list),
    h("section", { "aria-labelledby": "new-route-h" }, h("h2", { id: "new-route-h", text: "New route" }),
      accounts.length === 0 ? h("p", { text: "Create an account first: a route pays one of your accounts." }) : routeForm(accounts, async (r) => {
        say(`Route ${r.slug} created.`);
        await routesPage(r);
        document.getElementById("secret")?.focus();
      })));
}
