// Sign-in: email and password, or an injected EIP-1193 wallet through SIWE.
import * as api from "../api.js";
import { busy, field, go, h, page, say, showError } from "../ui.js";

export function signInPage() {
  const form = h("form", { novalidate: true },
    field("Email", "email", { type: "email", autocomplete: "username", required: true }),
    field("Password", "password", { type: "password", autocomplete: "current-password", required: true, minlength: "8", maxlength: "72" }),
    h("div", { class: "actions" },
      h("button", { type: "submit", name: "action", value: "login", text: "Sign in" }),
      h("button", { type: "button", text: "Create account", onclick: () => signUp() })));
  const signIn = async (data) => {
    await api.login(data.get("email"), data.get("password"));
    say("Signed in.");
    go("/");
  };
  const signUp = busy(form, async (data) => {
    await api.signup(data.get("email"), data.get("password"));
    say("Account created; signed in.");
    go("/");
  });
  form.addEventListener("submit", busy(form, signIn));
  const wallet = h("section", { "aria-labelledby": "wallet-h" }, h("h2", { id: "wallet-h", text: "Sign in with a wallet" }));
  if (window.ethereum?.request) {
    wallet.append(h("button", { type: "button", text: "Sign in with Ethereum", onclick: async (e) => {
      e.target.disabled = true;
      try {
        await api.signInWithWallet(window.ethereum);
        say("Signed in with your wallet.");
        go("/");
      } catch (err) {
        showError(err);
      } finally {
        e.target.disabled = false;
      }
    } }));
  } else {
    wallet.append(h("p", { text: "No browser wallet found (MetaMask, Coinbase Wallet or Rabby inject one)." }));
  }
  page("Sign in", h("section", { "aria-labelledby": "email-h" }, h("h2", { id: "email-h", text: "Email and password" }), form), wallet);
}
