// Decides a Tollway approval with a wallet, as README's example does: viem
// signs "Tollway approval <id>: <decision>" (EIP-191 personal_sign) with
// the owner's key, and the signature and address go in the decision's
// headers. cmd/tollway TestAWalletApprovesWithViem runs it.
//
//   node approval.mjs <api base URL> <approval id> <owner private key 0x…> approve|reject
import { privateKeyToAccount } from "viem/accounts";

const [api, id, privateKey, decision] = process.argv.slice(2);
const owner = privateKeyToAccount(privateKey);
const signature = await owner.signMessage({ message: `Tollway approval ${id}: ${decision}` });
const response = await fetch(`${api}/v1/approvals/${id}/${decision}`, {
  method: "POST",
  headers: { "X-Ethereum-Address": owner.address, "X-Ethereum-Signature": signature },
});
console.log(JSON.stringify({ status: response.status, body: await response.json() }));
