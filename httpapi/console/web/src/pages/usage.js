// Usage: what an account spent and earned per UTC day (the last 30 days)
// and month (the last 12), as bar charts (inline SVG drawn with DOM calls)
// each with the same numbers in a table. Amounts stay BigInt; only a bar's
// height, a ratio, becomes a Number.
import * as api from "../api.js";
import { formatUSDC } from "../usdc.js";
import { accountTabs, h, page } from "../ui.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 760;
const HEIGHT = 180;
const AXIS = 18; // room under the bars for the labels
const SERIES = [["spent", "Spent"], ["earned", "Earned"]];

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

const day = (d) => d.toISOString().slice(0, 10);

// periods lists the buckets' starts from from to to (Dates, UTC).
function periods(from, to, granularity) {
  const out = [];
  const d = new Date(from);
  while (d <= to) {
    out.push(day(d));
    if (granularity === "day") d.setUTCDate(d.getUTCDate() + 1);
    else d.setUTCMonth(d.getUTCMonth() + 1, 1);
  }
  return out;
}

// ranges are the two reports: the last 30 days and the last 12 months
// (from the first of the month 11 months ago: within the API's 366 days).
export function ranges(now = new Date()) {
  const today = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const days = new Date(today);
  days.setUTCDate(days.getUTCDate() - 29);
  const months = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 11, 1));
  return [
    { granularity: "day", from: days, to: today, title: "Per day, last 30 days", label: (s) => s.slice(5) },
    { granularity: "month", from: months, to: today, title: "Per month, last 12 months", label: (s) => s.slice(0, 7) },
  ];
}

// barChart draws, for each period, one bar per series; value(bucket, key)
// is a BigInt. The largest value is the full height.
function barChart(title, rows, value, format) {
  const max = rows.reduce((m, r) => SERIES.reduce((mm, [k]) => (value(r, k) > mm ? value(r, k) : mm), m), 0n);
  const slot = WIDTH / rows.length;
  const bar = Math.max(1, (slot - 2) / SERIES.length);
  const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT + AXIS}`, role: "img", class: "chart", "aria-label": title });
  chart.append(svg("title", {}, title));
  chart.append(svg("line", { x1: 0, y1: HEIGHT, x2: WIDTH, y2: HEIGHT, class: "axis" }));
  rows.forEach((r, i) => {
    SERIES.forEach(([k, name], j) => {
      const v = value(r, k);
      if (v === 0n) return;
      const height = Math.max(1, (Number((v * 10_000n) / max) / 10_000) * (HEIGHT - 4));
      const rect = svg("rect", { x: i * slot + 1 + j * bar, y: HEIGHT - height, width: bar, height, class: `column ${k}` });
      rect.append(svg("title", {}, `${r.label} ${name}: ${format(v)}`));
      chart.append(rect);
    });
    if (rows.length <= 12 || i % 5 === 0) {
      chart.append(svg("text", { x: i * slot + slot / 2, y: HEIGHT + 13, "text-anchor": "middle", class: "tick" }, r.label));
    }
  });
  return chart;
}

function legend() {
  return h("p", { class: "legend" }, SERIES.map(([k, name]) => h("span", { class: `key ${k}`, text: name })));
}

function table(caption, rows, total) {
  const cells = (r) => [
    h("td", { class: "num", text: String(r.spent.count) }), h("td", { class: "num", text: formatUSDC(r.spent.amount) }),
    h("td", { class: "num", text: String(r.earned.count) }), h("td", { class: "num", text: formatUSDC(r.earned.amount) }),
    h("td", { class: "num", text: formatUSDC(r.fees) })];
  return h("div", { class: "scroll" }, h("table", { class: "usage" }, h("caption", { text: caption }),
    h("thead", {}, h("tr", {}, ["Period", "Charges paid", "Spent (USDC)", "Charges earned", "Earned (USDC)", "Fees (USDC)"]
      .map((c) => h("th", { scope: "col", text: c })))),
    h("tbody", {}, rows.map((r) => h("tr", {}, h("th", { scope: "row", text: r.start }), cells(r)))),
    h("tfoot", {}, h("tr", {}, h("th", { scope: "row", text: "Total" }), cells(total)))));
}

const EMPTY = { spent: { count: 0, amount: "0" }, earned: { count: 0, amount: "0" }, fees: "0" };

async function report(id, range) {
  const q = new URLSearchParams({ account: id, from: day(range.from), to: day(range.to), granularity: range.granularity });
  const r = await api.call("GET", `/v1/usage?${q}`);
  const byStart = new Map(r.buckets.map((b) => [b.start, b]));
  const rows = periods(range.from, range.to, range.granularity).map((start) =>
    ({ ...EMPTY, ...byStart.get(start), start, label: range.label(start) }));
  const slug = range.granularity;
  return h("section", { "aria-labelledby": `usage-${slug}-h`, id: `usage-${slug}` },
    h("h2", { id: `usage-${slug}-h`, text: range.title }), legend(),
    h("div", { class: "charts" },
      h("figure", {}, barChart(`${range.title}: amounts (USDC)`, rows, (b, k) => BigInt(b[k].amount), (v) => `${formatUSDC(v.toString())} USDC`),
        h("figcaption", { text: "Amounts (USDC)" })),
      h("figure", {}, barChart(`${range.title}: charges`, rows, (b, k) => BigInt(b[k].count), (v) => `${v} charges`),
        h("figcaption", { text: "Counts" }))),
    table(`${range.title}: spent and earned`, rows.filter((row) => byStart.has(row.start)), r.total));
}

export async function usagePage(id) {
  const account = await api.call("GET", `/v1/accounts/${encodeURIComponent(id)}`);
  const sections = await Promise.all(ranges().map((range) => report(id, range)));
  page(`${account.name}: usage`,
    h("p", { class: "meta", text: `${account.id} · charges and captured holds, by UTC day and month; the tables list the periods with usage.` }),
    accountTabs(id, "/usage"), ...sections);
}
