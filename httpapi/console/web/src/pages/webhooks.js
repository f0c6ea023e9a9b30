// Webhook endpoints: create one (its signing secret shown once), list,
// delete, and an endpoint's delivery log, refreshed while shown.
import * as api from "../api.js";
import { action, apiPages, busy, checkboxes, field, go, h, link, live, page, paginate, say, secretBox, serverPages, table, when } from "../ui.js";

// WEBHOOK_EVENTS is openapi.json's WebhookEventType enum (a Go test in
// httpapi/console compares them).
export const WEBHOOK_EVENTS = ["balance.low", "deposit.credited", "settlement.confirmed", "settlement.failed", "session.ended",
  "hold.expired", "key.budget_exhausted", "approval.requested", "approval.decided"];

const LIVE_MS = 3000;

function webhookForm(accounts, onCreated) {
  const form = h("form", { novalidate: true },
    field("Endpoint URL", "url", { type: "url", required: true, maxlength: "2048", placeholder: "https://example.com/tollway" }),
    checkboxes("Events", "events", WEBHOOK_EVENTS),
    field("Account", "accountId", { tag: "select", options: [["", "All my accounts"], ...accounts.map((a) => [a.id, `${a.name} (${a.id})`])] }),
    h("div", { class: "actions" }, h("button", { type: "submit", text: "Create endpoint" })));
  form.addEventListener("submit", busy(form, async (data) => {
    const body = { url: data.get("url").trim(), events: data.getAll("events") };
    if (data.get("accountId")) body.accountId = data.get("accountId");
    const created = await api.call("POST", "/v1/webhooks", body);
    form.reset();
    await onCreated(created);
  }));
  return form;
}

export async function webhooksPage(created) {
  const [{ data: endpoints }, { data: accounts }] = await Promise.all([api.call("GET", "/v1/webhooks"), api.call("GET", "/v1/accounts")]);
  const names = new Map(accounts.map((a) => [a.id, a.name]));
  const remove = (w) => action(async () => {
    if (!confirm(`Delete the endpoint ${w.url}? Its queued events and delivery log go with it.`)) return;
    await api.call("DELETE", `/v1/webhooks/${encodeURIComponent(w.id)}`);
    say(`Endpoint ${w.url} deleted.`);
    await webhooksPage();
  });
  const list = endpoints.length === 0 ? h("p", { text: "No endpoints yet." }) : paginate(endpoints, (items) =>
    table("Webhook endpoints", ["Endpoint", "Events", "Account", "Created", "Actions"], items.map((w) => [
      link(`/webhooks/${encodeURIComponent(w.id)}`, w.url, { "aria-label": `Deliveries of ${w.url}` }),
      w.events.join(", "), w.accountId ? `${names.get(w.accountId) ?? ""} ${w.accountId}`.trim() : "All my accounts", when(w.createdAt),
      h("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete ${w.url}`, onclick: remove(w) })])), "Endpoints");
  page("Webhooks",
    h("p", { text: "Tollway posts each event you choose to your endpoint, signed with the endpoint's secret (Tollway-Signature)." }),
    h("div", { id: "secret-slot" }, created ? secretBox(`Signing secret for ${created.url}`, created.secret, "Signing secret") : null),
    h("section", { "aria-labelledby": "endpoints-h" }, h("h2", { id: "endpoints-h", text: "Endpoints" }), list),
    h("section", { "aria-labelledby": "new-endpoint-h" }, h("h2", { id: "new-endpoint-h", text: "New endpoint" }),
      webhookForm(accounts, async (w) => {
        say(`Endpoint ${w.url} created.`);
        await webhooksPage(w);
        document.getElementById("secret")?.focus();
      })));
}

// deliveryRows leads with what an operator looks for: when, what, and
// whether it arrived.
function deliveryRows(items) {
  return table("Deliveries", ["At", "Type", "Outcome", "Response", "Attempt", "Error", "Took", "Event", "Delivery"], items.map((d) => [
    when(d.at), d.type, h("span", { class: `state state-${d.outcome}`, text: d.outcome }), d.status === null ? "none" : String(d.status),
    String(d.attempt), d.error ?? "—", `${d.durationMs} ms`, h("code", { text: d.eventId }), h("code", { text: d.id })]));
}

export async function webhookPage(id) {
  const w = await api.call("GET", `/v1/webhooks/${encodeURIComponent(id)}`);
  const deliveries = serverPages(apiPages(`/v1/webhooks/${encodeURIComponent(id)}/deliveries`), deliveryRows, "Deliveries",
    "No deliveries yet.");
  page("Webhook endpoint",
    h("dl", { class: "facts" }, [["URL", h("code", { class: "mono", text: w.url })], ["Id", h("code", { text: w.id })], ["Events", w.events.join(", ")], ["Account", w.accountId ?? "All my accounts"],
      ["Created", when(w.createdAt)]].flatMap(([k, v]) => [h("dt", { text: k }), h("dd", {}, v)])),
    h("section", { "aria-labelledby": "deliveries-h" }, h("h2", { id: "deliveries-h", text: "Delivery log" }),
      h("p", { class: "meta", text: "Newest first; refreshed every 3 seconds while shown." }), deliveries),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "danger", text: "Delete endpoint", onclick: action(async () => {
        if (!confirm(`Delete the endpoint ${w.url}? Its queued events and delivery log go with it.`)) return;
        await api.call("DELETE", `/v1/webhooks/${encodeURIComponent(w.id)}`);
        say(`Endpoint ${w.url} deleted.`);
        go("/webhooks");
      }) }),
      link("/webhooks", "← All endpoints")));
  live(deliveries.refresh, LIVE_MS);
}
