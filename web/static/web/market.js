// The market page: a live order book beside the ticket, and the ticket's expected fill from the
// execution-price dry run, with a warning for a limit far through the market and a refusal when the
// balance cannot pay the order (the submit is stopped before the ticket sends it).
import { announce, api, showNotice } from "./app.js";

const BOOK_POLL_MILLISECONDS = 2000;
const EXPECTED_DELAY_MILLISECONDS = 300;
const config = JSON.parse(document.getElementById("market-config").textContent);
const form = document.getElementById("ticket");
const fillText = document.getElementById("expected-fill-text");
const feesText = document.getElementById("expected-fees");
const totalText = document.getElementById("expected-total");
const warningBox = document.getElementById("far-through-warning");
const refusalBox = document.getElementById("balance-refusal");
const ticketErrors = document.getElementById("ticket-errors");
let expectedTimer = null;
let expectedSequence = 0;
let refusal = "";

function cell(text, className) {
  const node = document.createElement("td");
  node.textContent = text;
  if (className) node.className = className;
  return node;
}

function levelRow(kind, level) {
  const row = document.createElement("tr");
  row.className = kind;
  row.append(cell(kind === "ask" ? "Ask" : "Bid"), cell(level.price, "number"), cell(level.size, "number"));
  return row;
}

async function refreshBook(outcome) {
  const query = new URLSearchParams({ exchange: config.exchange, market_id: config.marketId, outcome });
  const answer = await api("GET", `${config.bookUrl}?${query}`);
  const panel = document.querySelector(`[data-book="${CSS.escape(outcome)}"]`);
  if (!answer.ok || !panel) return;
  // Asks are listed best last, so the best ask and the best bid meet in the middle of the table.
  panel.querySelector('[data-levels="asks"]').replaceChildren(...answer.data.asks.slice().reverse().map((level) => levelRow("ask", level)));
  panel.querySelector('[data-levels="bids"]').replaceChildren(...answer.data.bids.map((level) => levelRow("bid", level)));
}

function refreshBooks() {
  for (const outcome of config.outcomes) refreshBook(outcome);
}

function ticketValues() {
  return {
    side: form.querySelector('input[name="side"]:checked')?.value || "buy",
    price: document.getElementById("field-price").value.trim(),
    size: document.getElementById("field-size").value.trim(),
    outcome: document.getElementById("field-outcome").value,
  };
}

function scheduleExpected() {
  window.clearTimeout(expectedTimer);
  expectedTimer = window.setTimeout(expected, EXPECTED_DELAY_MILLISECONDS);
}

async function expected() {
  const values = ticketValues();
  if (!values.price || !values.size) {
    fillText.textContent = "Enter a price and size to see what the order would do.";
    feesText.textContent = totalText.textContent = "";
    showNotice(warningBox, []);
    showNotice(refusalBox, []);
    refusal = "";
    return;
  }
  const sequence = ++expectedSequence;
  const query = new URLSearchParams({ exchange: config.exchange, market_id: config.marketId, ...values });
  const answer = await api("GET", `${config.expectedFillUrl}?${query}`);
  if (sequence !== expectedSequence) return; // a newer one is on its way
  if (!answer.ok) {
    fillText.textContent = answer.data.error;
    feesText.textContent = totalText.textContent = "";
    showNotice(warningBox, []);
    showNotice(refusalBox, []);
    refusal = "";
    return;
  }
  fillText.textContent = answer.data.fill;
  feesText.textContent = answer.data.fees;
  totalText.textContent = answer.data.total;
  showNotice(warningBox, answer.data.warning || []);
  showNotice(refusalBox, answer.data.refusal || []);
  refusal = answer.data.refusal || "";
}

// Capture on the document runs before the ticket's own submit handler on the form.
document.addEventListener(
  "submit",
  (event) => {
    if (event.target !== form || !refusal) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    showNotice(ticketErrors, `The order was not placed: ${refusal}`, { focus: true });
  },
  true,
);

for (const name of ["price", "size", "outcome"]) {
  const field = document.getElementById(`field-${name}`);
  field.addEventListener("input", scheduleExpected);
  field.addEventListener("change", scheduleExpected);
}
for (const radio of form.querySelectorAll('input[name="side"]')) radio.addEventListener("change", scheduleExpected);
document.addEventListener("orders:refresh", () => {
  announce("The order book will refresh in a moment.");
  window.setTimeout(refreshBooks, 500);
  scheduleExpected();
});
window.setInterval(() => {
  if (document.visibilityState === "visible") refreshBooks();
}, BOOK_POLL_MILLISECONDS);
scheduleExpected();
