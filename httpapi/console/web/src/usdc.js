// USDC amounts: the API speaks base units (6 decimals) as decimal strings;
// people read and type USDC. BigInt only: a float would round.

export const DECIMALS = 6;
const SCALE = 10n ** BigInt(DECIMALS);

// formatUSDC("1234500") === "1.234500"
export function formatUSDC(baseUnits) {
  if (typeof baseUnits !== "string" || !/^[0-9]+$/.test(baseUnits)) {
    throw new Error(`not a base-unit amount: ${baseUnits}`);
  }
  const v = BigInt(baseUnits);
  const whole = v / SCALE;
  const fraction = (v % SCALE).toString().padStart(DECIMALS, "0");
  return `${whole.toLocaleString("en-US")}.${fraction}`;
}

// parseUSDC("1.5") === "1500000"; null for anything that is not a
// non-negative USDC amount with at most 6 decimals.
export function parseUSDC(text) {
  const m = /^\s*([0-9]+)(?:\.([0-9]{0,6}))?\s*$/.exec(text);
  if (!m) return null;
  const fraction = (m[2] ?? "").padEnd(DECIMALS, "0");
  return (BigInt(m[1]) * SCALE + BigInt(fraction)).toString();
}
