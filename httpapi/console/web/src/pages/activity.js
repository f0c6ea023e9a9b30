// An account's sessions and holds: two lists the API pages, each with a
// state filter, refreshed every few seconds while shown (the page the user
// is on stays), so a capture or an end shows without a reload.
import * as api from "../api.js";
import { formatUSDC } from "../usdc.js";
import { accountTabs, apiPages, field, h, link, live, page, serverPages, table, when } from "../ui.js";

// LIVE_MS is how often the lists are read again while shown.
const LIVE_MS = 3000;

export const SESSION_STATES = ["REQUESTED", "ASSIGNED", "LIVE", "ENDED", "CANCELLED", "EXPIRED"];
export const HOLD_STATES = ["PENDING", "CAPTURED", "VOIDED", "EXPIRED"];

// An amount stays on one line: "0.000100 USDC" broken in two reads as two.
const usdc = (v) => h("span", { class: "amount", text: `${formatUSDC(v)} USDC` });

// side says which way money goes for the account shown: it pays (from) or
// is paid (to), and who the other side is (by name when it is the user's).
function side(accountId, names, item) {
  const paying = item.from === accountId;
  const other = paying ? item.to : item.from;
  return [paying ? "paying" : "paid", names.has(other)
    ? link(`/accounts/${encodeURIComponent(other)}/activity`, names.get(other), { title: other })
    : h("code", { text: other })];
}

const stateCell = (state) => h("span", { class: `state state-${state.toLowerCase()}`, text: state });

// The state comes first after the id: it is what changes, and a wide table
// scrolls on a narrow screen.
function sessionRows(accountId, names) {
  return (items) => table("Sessions", ["Session", "State", "Direction", "Counterparty", "Rate", "Reserved", "Charged", "Created", "Started",
    "Ended"], items.map((s) => {
    const [direction, counterparty] = side(accountId, names, s);
    return [h("code", { text: s.id }), stateCell(s.state), direction, counterparty, h("span", {}, usdc(s.ratePerSecond), "/s, at most ", h("span", { class: "amount", text: `${s.maxDurationSeconds} s` })),
      usdc(s.reserved), s.state === "ENDED" ? h("span", {}, usdc(s.charged), ` (${s.cleanSeconds} s)`) : "—",
      when(s.createdAt), when(s.startedAt), when(s.endedAt)];
  }));
}

function holdRows(accountId, names) {
  return (items) => table("Holds", ["Hold", "State", "Direction", "Counterparty", "Amount", "Captured", "Created", "Expires", "Closed"],
    items.map((hold) => {
      const [direction, counterparty] = side(accountId, names, hold);
      return [h("code", { text: hold.id }), stateCell(hold.state), direction, counterparty, usdc(hold.amount),
        hold.state === "CAPTURED" ? usdc(hold.captured) : "—", when(hold.createdAt), when(hold.expiresAt), when(hold.closedAt)];
    }));
}

// filtered is a list with a state filter above it: a new filter starts
// again at the first page. current() is the list shown, for refreshing.
function filtered(kind, states, load, render) {
  const name = `${kind}.state`;
  const filter = field(`${kind[0].toUpperCase()}${kind.slice(1, -1)} state`, name,
    { tag: "select", options: [["", "All states"], ...states] });
  const select = filter.querySelector("select");
  const slot = h("div");
  let list;
  const show = () => {
    list = serverPages(load(select.value), render, kind[0].toUpperCase() + kind.slice(1), `No ${kind} yet.`);
    slot.replaceChildren(list);
  };
  select.addEventListener("change", show);
  show();
  const section = h("section", { "aria-labelledby": `${kind}-h`, class: "activity" },
    h("h2", { id: `${kind}-h`, text: kind[0].toUpperCase() + kind.slice(1) }), h("div", { class: "filters" }, filter), slot);
  return { section, current: () => list };
}

export async function activityPage(id) {
  const [account, { data: accounts }] = await Promise.all([api.call("GET", `/v1/accounts/${encodeURIComponent(id)}`),
    api.call("GET", "/v1/accounts")]);
  const names = new Map(accounts.map((a) => [a.id, a.name]));
  const sessions = filtered("sessions", SESSION_STATES, (state) => apiPages("/v1/sessions", { account: id, state }), sessionRows(id, names));
  const holds = filtered("holds", HOLD_STATES, (state) => apiPages("/v1/holds", { account: id, state }), holdRows(id, names));
  page(`${account.name}: sessions and holds`,
    h("p", { class: "meta", text: `${account.id} · ${account.environment}` }),
    accountTabs(id, "/activity"),
    h("p", { class: "meta", text: "Refreshed every 3 seconds while shown." }),
    sessions.section, holds.section);
  live(() => Promise.all([sessions.current().refresh(), holds.current().refresh()]), LIVE_MS);
}
