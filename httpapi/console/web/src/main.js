// The console: a router over its pages, and the start (a stored refresh
// token signs the user back in after a reload).
import * as api from "./api.js";
import { accountPage, accountsPage } from "./pages/accounts.js";
import { activityPage } from "./pages/activity.js";
import { routesPage } from "./pages/routes.js";
import { settlementPage, settlementsPage } from "./pages/settlements.js";
import { signInPage } from "./pages/signin.js";
import { approvalsPage } from "./pages/approvals.js";
import { topUpPage } from "./pages/topup.js";
import { usagePage } from "./pages/usage.js";
import { webhookPage, webhooksPage } from "./pages/webhooks.js";
import { go, h, link, render, say, setRoutes, showError } from "./ui.js";

const nav = document.getElementById("nav");

// ROUTES: the first is also the page of an unknown path.
const ROUTES = [
  [/^\/$/, accountsPage],
  [/^\/accounts\/([^/]+)$/, accountPage],
  [/^\/accounts\/([^/]+)\/top-up$/, topUpPage],
  [/^\/accounts\/([^/]+)\/usage$/, usagePage],
  [/^\/approvals$/, () => approvalsPage()],
  [/^\/accounts\/([^/]+)\/activity$/, activityPage],
  [/^\/accounts\/([^/]+)\/settlements$/, settlementsPage],
  [/^\/accounts\/([^/]+)\/settlements\/([^/]+)$/, settlementPage],
  [/^\/webhooks$/, () => webhooksPage()],
  [/^\/webhooks\/([^/]+)$/, webhookPage],
  [/^\/routes$/, () => routesPage()],
];

function drawNav() {
  const u = api.currentUser();
  nav.replaceChildren(...(api.signedIn()
    ? [link("/", "Accounts"), link("/approvals", "Approvals"), link("/webhooks", "Webhooks"), link("/routes", "Gateway routes"),
      h("span", { class: "who", text: u?.email ?? u?.address ?? "" }),
      h("button", { type: "button", text: "Sign out", onclick: async () => {
        try { await api.logout(); } catch (err) { showError(err); }
        say("Signed out.");
        go("/");
      } })]
    : []));
}

setRoutes(ROUTES, signInPage, drawNav);
window.addEventListener("popstate", render);
(async () => {
  try {
    await api.refresh();
  } catch (err) {
    showError(err);
  }
  render();
})();
