// The x402 reference packages against Tollway's facilitator, unchanged: a
// resource server built with @x402/express and HTTPFacilitatorClient, whose
// facilitator URL is Tollway's /x402, and a client built with @x402/fetch and
// @x402/evm signing with a viem local account. It asks for the paid resource
// without paying (402 expected), then pays and prints one JSON line:
// {unpaid, status, body, paymentResponse} or {error}.
//
// Usage: node interop.mjs FACILITATOR_URL USDC PAY_TO PAYER_KEY AMOUNT [FACILITATOR_KEY]
import express from "express";
import { paymentMiddleware, x402ResourceServer } from "@x402/express";
import { ExactEvmScheme as ServerScheme } from "@x402/evm/exact/server";
import { HTTPFacilitatorClient } from "@x402/core/server";
import { wrapFetchWithPaymentFromConfig } from "@x402/fetch";
import { ExactEvmScheme as ClientScheme } from "@x402/evm";
import { privateKeyToAccount } from "viem/accounts";

const [facilitatorURL, usdc, payTo, payerKey, amount, facilitatorKey] = process.argv.slice(2);
const network = "eip155:1337"; // the embedded chain
const bearer = facilitatorKey ? { Authorization: `Bearer ${facilitatorKey}` } : {};
const facilitator = new HTTPFacilitatorClient({
  url: facilitatorURL,
  createAuthHeaders: async () => ({ verify: bearer, settle: bearer, supported: bearer }),
});
const server = new x402ResourceServer(facilitator).register(network, new ServerScheme());

const app = express();
app.use(paymentMiddleware({
  "GET /paid": {
    accepts: {
      scheme: "exact", network, payTo,
      // Not a default asset of the reference: the test USDC, by address,
      // with its EIP-712 domain.
      price: { amount, asset: usdc, extra: { name: "USD Coin", version: "2" } },
    },
    description: "a paid resource",
  },
}, server));
app.get("/paid", (req, res) => res.json({ content: "paid content" }));

const listener = app.listen(0, "127.0.0.1", async () => {
  const url = `http://127.0.0.1:${listener.address().port}/paid`;
  let result;
  try {
    const unpaid = await fetch(url);
    const pay = wrapFetchWithPaymentFromConfig(fetch, {
      schemes: [{ network, client: new ClientScheme(privateKeyToAccount(payerKey)) }],
      spendControls: { allowedAssets: [{ network, asset: usdc, maxAmountPerPayment: amount }] },
    });
    const response = await pay(url);
    result = {
      unpaid: unpaid.status, status: response.status, body: await response.text(),
      paymentResponse: response.headers.get("payment-response"),
    };
  } catch (e) {
    result = { error: String((e && e.stack) || e) };
  }
  console.log(JSON.stringify(result));
  listener.close();
  process.exit(0);
});
