// Prices as exact decimal strings: no float ever touches a price the ticket shows or sends.

/**
 * 1 - price, exactly, on the decimal string: "0.82" -> "0.18" (never 0.18000000000000005).
 * Works in integer units of the price's last decimal place; null for anything that is not a price.
 */
export function complementPrice(price) {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(String(price).trim());
  if (!match) return null;
  const places = (match[2] || "").length;
  const units = BigInt(match[1] + (match[2] || ""));
  const rest = 10n ** BigInt(places) - units;
  if (rest < 0n) return null;
  const digits = rest.toString().padStart(places + 1, "0");
  const whole = digits.slice(0, digits.length - places);
  const fraction = digits.slice(digits.length - places).replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : whole;
}

/** A decimal price string as people write it: "0.80" -> "0.8", "1.000" -> "1"; null if not a price. */
export function plainPrice(price) {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(String(price).trim());
  if (!match) return null;
  const whole = match[1].replace(/^0+(?=\d)/, "");
  const fraction = (match[2] || "").replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : whole;
}

/** The chosen outcome's price: the market's own per-outcome price, else No = 1 - Yes on a Yes/No market. */
export function outcomePrice(market, outcome) {
  if (!market) return null;
  if (market.outcome_prices && Object.hasOwn(market.outcome_prices, outcome)) {
    const own = market.outcome_prices[outcome];
    return own === null || own === undefined ? null : plainPrice(own);
  }
  if (market.price === null || market.price === undefined) return null;
  const binary = market.outcomes.length === 2 && market.outcomes.includes("Yes") && market.outcomes.includes("No");
  if (!binary) return null; // a listing's single price says nothing certain about the other outcomes
  return outcome === "Yes" ? plainPrice(market.price) : complementPrice(market.price);
}
