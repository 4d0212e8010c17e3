// The order ticket: choices that follow the exchange and market, a live fee quote, and submission.
import { announce, api, showNotice } from "./app.js";
import { authorizeFee } from "./fee.js";
import { outcomePrice } from "./prices.js";

const QUOTE_DELAY_MILLISECONDS = 250;
const form = document.getElementById("ticket");
const config = JSON.parse(document.getElementById("ticket-config").textContent);
const summaryBox = document.getElementById("ticket-errors");
const feeSummary = document.getElementById("fee-summary");
const placeButton = document.getElementById("place-order");
const fields = {
  exchange: document.getElementById("field-exchange"),
  market_id: document.getElementById("field-market"),
  outcome: document.getElementById("field-outcome"),
  price: document.getElementById("field-price"),
  size: document.getElementById("field-size"),
  order_type: document.getElementById("field-order-type"),
  expiration: document.getElementById("field-expiration"),
};
const expirationField = document.getElementById("expiration-field");
const marketHint = document.getElementById("hint-market");
const orderTypeHint = document.getElementById("hint-order-type");
let markets = config.markets;
let quoteTimer = null;
let quoteSequence = 0;

function option(value, label, selected = false) {
  const node = document.createElement("option");
  node.value = value;
  node.textContent = label;
  node.selected = selected;
  return node;
}

function side() {
  return form.querySelector('input[name="side"]:checked')?.value || "buy";
}

function currentMarket() {
  return markets.find((market) => market.market_id === fields.market_id.value) || null;
}

function fillOrderTypes() {
  const chosen = fields.order_type.value;
  const types = config.orderTypes[fields.exchange.value] || ["gtc"];
  fields.order_type.replaceChildren(...types.map((type) => option(type, config.orderTypeLabels[type], type === chosen)));
  toggleExpiration();
}

function showOutcomePrice() {
  const outcome = fields.outcome.value;
  const price = outcomePrice(currentMarket(), outcome);
  marketHint.textContent = price === null ? "" : `Current price of ${outcome}: ${price}`;
  // Pre-fill the limit with that price, unless the person has typed a price of their own.
  const untouched = !fields.price.value.trim() || fields.price.value === fields.price.dataset.prefilled;
  if (price !== null && untouched && fields.price.value !== price) {
    fields.price.value = price;
    fields.price.dataset.prefilled = price;
    scheduleQuote();
  }
}

function fillOutcomes() {
  const market = currentMarket();
  const chosen = fields.outcome.value;
  const outcomes = market ? market.outcomes : [];
  fields.outcome.replaceChildren(...outcomes.map((outcome) => option(outcome, outcome, outcome === chosen)));
  showOutcomePrice();
}

async function fillMarkets() {
  const answer = await api("GET", `${form.dataset.marketsUrl}?exchange=${encodeURIComponent(fields.exchange.value)}`);
  if (!answer.ok) {
    showFieldErrors({ market_id: answer.data.error });
    return;
  }
  markets = answer.data.markets;
  fields.market_id.replaceChildren(
    ...(markets.length
      ? markets.map((market) => option(market.market_id, market.question))
      : [option("", "No tradable markets on this exchange")]),
  );
  fillOutcomes();
}

function toggleExpiration() {
  orderTypeHint.textContent = `${config.orderTypeHints[fields.order_type.value] || ""} Only the types this exchange supports are listed.`;
  expirationField.hidden = fields.order_type.value !== "gtd";
  if (!expirationField.hidden && !fields.expiration.value) {
    // Suggest ten minutes ahead, comfortably past the minimum lead, in the browser's local time.
    const suggestion = new Date(Date.now() + 10 * 60 * 1000);
    suggestion.setSeconds(0, 0);
    const local = new Date(suggestion.getTime() - suggestion.getTimezoneOffset() * 60000);
    fields.expiration.value = local.toISOString().slice(0, 16);
  }
}

// --- Fee quote ------------------------------------------------------------------------------------

function scheduleQuote() {
  window.clearTimeout(quoteTimer);
  quoteTimer = window.setTimeout(quote, QUOTE_DELAY_MILLISECONDS);
}

async function quote() {
  const price = fields.price.value.trim();
  const size = fields.size.value.trim();
  if (!price || !size) {
    feeSummary.textContent = "Enter a price and size to see the fee.";
    return;
  }
  const sequence = ++quoteSequence;
  const query = new URLSearchParams({ exchange: fields.exchange.value, price, size });
  const answer = await api("GET", `${form.dataset.quoteUrl}?${query}`);
  if (sequence !== quoteSequence) return; // a newer quote is on its way
  feeSummary.dataset.feeAmount = answer.ok ? answer.data.fee_amount : "";
  feeSummary.textContent = answer.ok ? answer.data.summary : answer.data.error;
}

// --- Errors beside fields ---------------------------------------------------------------------------

function clearErrors() {
  showNotice(summaryBox, []);
  for (const span of form.querySelectorAll(".field-error")) span.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

function showFieldErrors(fieldErrors, summary) {
  let first = null;
  for (const [name, message] of Object.entries(fieldErrors)) {
    const span = document.getElementById(`error-${name}`);
    if (!span) continue;
    span.textContent = message;
    const input = fields[name] || form.querySelector(`[name="${name}"]`);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      first = first || input;
    }
  }
  if (summary) showNotice(summaryBox, summary, { focus: !first });
  if (first) first.focus();
}

// --- Submission ----------------------------------------------------------------------------------------

function payload() {
  const body = {
    exchange: fields.exchange.value,
    market_id: fields.market_id.value,
    outcome: fields.outcome.value,
    side: side(),
    price: fields.price.value.trim(),
    size: fields.size.value.trim(),
    order_type: fields.order_type.value,
  };
  if (body.order_type === "gtd") {
    const when = fields.expiration.value ? new Date(fields.expiration.value) : null;
    body.expiration = when && !Number.isNaN(when.getTime()) ? Math.floor(when.getTime() / 1000) : null;
  }
  return body;
}

async function submit(event) {
  event.preventDefault();
  clearErrors();
  if (placeButton.getAttribute("aria-disabled") === "true") {
    showNotice(summaryBox, "Your trading account is still being set up; orders can be placed once it is ready.", { focus: true });
    return;
  }
  placeButton.disabled = true;
  placeButton.textContent = "Placing…";
  const answer = await api("POST", form.dataset.createUrl, payload());
  placeButton.disabled = false;
  placeButton.textContent = "Place order";
  if (!answer.ok) {
    const fieldErrors = answer.data.fields || {};
    const summary = Object.keys(fieldErrors).length
      ? `The order was not placed. ${answer.data.error}`
      : `The order was not placed: ${answer.data.error}`;
    showFieldErrors(fieldErrors, summary);
    return;
  }
  const order = answer.data;
  announce(`Order placed: ${order.side_label} ${order.size} ${order.outcome} at ${order.price}. ${order.status_label}.`);
  document.dispatchEvent(new CustomEvent("orders:refresh"));
  if (order.can_sign_fee) await authorizeFee(order);
}

fields.exchange.addEventListener("change", async () => {
  fillOrderTypes();
  await fillMarkets();
  scheduleQuote();
});
fields.market_id.addEventListener("change", fillOutcomes);
fields.outcome.addEventListener("change", showOutcomePrice);
fields.order_type.addEventListener("change", toggleExpiration);
fields.price.addEventListener("input", scheduleQuote);
fields.size.addEventListener("input", scheduleQuote);
form.addEventListener("submit", submit);
// The server pre-filled the price of the outcome it selected: treat it as ours to replace.
if (fields.price.value && fields.price.value === outcomePrice(currentMarket(), fields.outcome.value)) {
  fields.price.dataset.prefilled = fields.price.value;
}
toggleExpiration();
scheduleQuote();
