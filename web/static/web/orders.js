// The live orders table: polls the orders endpoint about once a second and updates rows in place.
import { announce, api, showNotice } from "./app.js";
import { authorizeFee } from "./fee.js";

const POLL_MILLISECONDS = 1000;
// Right after the person acts (places, signs, cancels) the interesting changes come within seconds.
const QUICK_POLL_MILLISECONDS = 250;
const QUICK_POLL_WINDOW_MILLISECONDS = 5000;
const table = document.querySelector("[data-orders-table]");
const errorBox = document.getElementById("orders-error");

function element(tag, { text, className, attributes } = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  return node;
}

function timeCell(order) {
  // Always the date and the seconds: orders placed on other days, or within one minute, stay distinct.
  const created = new Date(order.created_at);
  const text = created.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
  return [element("time", { text, attributes: { datetime: order.created_at } })];
}

function marketCell(order) {
  return [element("span", { text: order.market_label }), element("br"), element("span", { text: order.exchange_name, className: "muted" })];
}

function orderCell(order) {
  return [
    element("a", {
      text: `${order.side_label} ${order.size} ${order.outcome} @ ${order.price}`,
      attributes: { href: `/orders/${order.id}` },
    }),
    element("br"),
    element("span", { text: order.order_type_label, className: "muted" }),
  ];
}

function filledCell(order) {
  const nodes = [element("span", { text: `${order.filled} of ${order.size}`, attributes: { "data-filled": order.filled } })];
  if (order.average_fill_price !== null && order.average_fill_price !== undefined) {
    nodes.push(
      element("br"),
      element("span", {
        text: `at ${order.average_fill_price} on average`,
        className: "muted",
        attributes: { "data-average-price": order.average_fill_price },
      }),
    );
  }
  return nodes;
}

function statusCell(order) {
  const nodes = [
    element("span", {
      text: order.status_label,
      className: `status status-${order.status}`,
      attributes: { "data-status": order.status },
    }),
  ];
  if (order.status_detail) {
    nodes.push(element("br"), element("span", { text: order.status_detail, className: "muted", attributes: { "data-status-detail": "" } }));
  }
  return nodes;
}

function feeCell(order) {
  if (!order.fee) return [element("span", { text: "No fee", className: "muted" })];
  return [
    element("span", { text: `${order.fee.amount_usdc} USDC` }),
    element("br"),
    element("span", {
      text: order.fee.state_label,
      className: `status status-${order.fee.state}`,
      attributes: { "data-fee-state": order.fee.state },
    }),
  ];
}

function actionsCell(order) {
  const wrapper = element("div", { className: "actions" });
  const label = `${order.side_label} ${order.size} ${order.outcome} @ ${order.price}`;
  if (order.can_sign_fee) {
    const sign = element("button", { text: "Sign fee", className: "small", attributes: { type: "button", "data-action": "sign-fee" } });
    sign.setAttribute("aria-label", `Sign fee for ${label}`);
    wrapper.append(sign);
  }
  if (order.can_cancel) {
    const cancel = element("button", { text: "Cancel", className: "small danger", attributes: { type: "button", "data-action": "cancel" } });
    cancel.setAttribute("aria-label", `Cancel ${label}`);
    wrapper.append(cancel);
  }
  return wrapper.childElementCount ? [wrapper] : [];
}

const COLUMNS = [
  ["Placed", timeCell],
  ["Market", marketCell],
  ["Order", orderCell],
  ["Filled", filledCell, "number"],
  ["Status", statusCell],
  ["Fee", feeCell],
  ["Actions", actionsCell],
];

/** Replace a cell's content only when what it shows changed, so focus and screen readers are left alone. */
function updateCell(cell, nodes) {
  const key = nodes.map((node) => node.outerHTML || "").join("");
  if (cell.dataset.key === key) return;
  const hadFocus = cell.contains(document.activeElement);
  // One wrapper per cell: on a phone each cell is a two-column grid of its label and this content.
  const content = element("div");
  content.append(...nodes);
  cell.replaceChildren(content);
  cell.dataset.key = key;
  if (hadFocus) {
    // The focused button went away (e.g. Cancel on an order that just filled): keep focus in the row.
    const next = cell.querySelector("button") || cell.closest("tr").querySelector("[data-status]");
    if (next) {
      if (!next.matches("button")) next.setAttribute("tabindex", "-1");
      next.focus();
    }
  }
}

function newRow(order) {
  const row = element("tr", { attributes: { "data-order-id": order.id } });
  for (const [label, , className] of COLUMNS) {
    const cell = element("td", { attributes: { "data-label": label } });
    if (className) cell.className = className;
    row.append(cell);
  }
  return row;
}

const known = new Map(); // order id -> last status seen
let polling = null;
let quickUntil = 0;
const latest = new Map(); // order id -> order JSON, for the buttons

function render(orders) {
  const body = table.tBodies[0];
  body.querySelector("[data-placeholder]")?.remove();
  let previous = null;
  for (const order of orders) {
    latest.set(order.id, order);
    let row = body.querySelector(`tr[data-order-id="${CSS.escape(order.id)}"]`);
    if (!row) row = newRow(order);
    // Keep the server's order (newest first) without moving rows that are already in place.
    const wanted = previous ? previous.nextElementSibling : body.firstElementChild;
    if (row !== wanted) body.insertBefore(row, wanted);
    COLUMNS.forEach(([, build], index) => updateCell(row.cells[index], build(order)));
    row.dataset.status = order.status;
    const before = known.get(order.id);
    if (before && before !== order.status) {
      announce(`Order ${order.side_label} ${order.size} ${order.outcome}: ${order.status_label}.`);
    }
    known.set(order.id, order.status);
    previous = row;
  }
  // Rows beyond the newest `limit` orders drop off the end.
  while (previous && previous.nextElementSibling) previous.nextElementSibling.remove();
  if (!orders.length && !body.rows.length) {
    const empty = element("tr", { attributes: { "data-placeholder": "" } });
    const cell = element("td", { text: "You have not placed any orders yet." });
    cell.colSpan = COLUMNS.length;
    empty.append(cell);
    body.append(empty);
  }
}

let inFlight = false;
let pollAgain = false;

async function poll() {
  window.clearTimeout(polling);
  if (inFlight) {
    pollAgain = true; // one loop only: the request under way polls again as soon as it is back
    return;
  }
  inFlight = true;
  const answer = await api("GET", table.dataset.ordersUrl);
  inFlight = false;
  if (answer.ok) {
    render(answer.data.orders);
    if (errorBox.dataset.source === "poll") showNotice(errorBox, []);
  } else if (answer.status === 401) {
    showNotice(errorBox, answer.data.error);
    errorBox.dataset.source = "poll";
    return; // signed out: nothing more will load
  } else {
    showNotice(errorBox, "Your orders could not be refreshed just now; retrying.");
    errorBox.dataset.source = "poll";
  }
  if (pollAgain) {
    pollAgain = false;
    poll();
    return;
  }
  let delay = Date.now() < quickUntil ? QUICK_POLL_MILLISECONDS : POLL_MILLISECONDS;
  if (document.hidden) delay = POLL_MILLISECONDS * 5;
  polling = window.setTimeout(poll, delay);
}

function pollSoon() {
  quickUntil = Date.now() + QUICK_POLL_WINDOW_MILLISECONDS;
  poll();
}

async function cancel(order, button) {
  button.disabled = true;
  const answer = await api("POST", order.urls.cancel);
  if (answer.ok) {
    announce(`Cancel requested for ${order.side_label} ${order.size} ${order.outcome}.`);
  } else {
    button.disabled = false;
    errorBox.dataset.source = "action";
    showNotice(errorBox, answer.data.error, { focus: true });
  }
  pollSoon();
}

if (table) {
  table.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const order = latest.get(button.closest("tr").dataset.orderId);
    if (!order) return;
    if (button.dataset.action === "cancel") cancel(order, button);
    if (button.dataset.action === "sign-fee") authorizeFee(order);
  });
  document.addEventListener("orders:refresh", pollSoon);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) poll();
  });
  poll();
}
