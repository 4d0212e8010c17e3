// On every page of a signed-in person: say when one of their orders fills or is cancelled, wherever
// they are on the site. Statuses seen are kept for the browser tab (sessionStorage), so moving between
// pages neither repeats a notice nor misses a change made meanwhile.
const POLL_MILLISECONDS = 3000;
const STORAGE_KEY = "orderStatusesSeen";
const region = document.getElementById("order-notices");
const ENDING = { filled: "has filled", cancelled: "was cancelled" };

function seen() {
  try {
    return JSON.parse(window.sessionStorage.getItem(STORAGE_KEY) || "null");
  } catch {
    return null;
  }
}

function notice(order) {
  const box = document.createElement("div");
  box.className = "notice success order-notice";
  const text = document.createElement("p");
  const link = document.createElement("a");
  link.href = `/orders/${order.id}`;
  link.textContent = `${order.side_label} ${order.size} ${order.outcome} at ${order.price}`;
  text.append("Your order ", link, ` on “${order.market_label}” ${ENDING[order.status]}.`);
  const close = document.createElement("button");
  close.type = "button";
  close.className = "secondary small";
  close.textContent = "Dismiss";
  close.setAttribute("aria-label", "Dismiss this notice");
  close.addEventListener("click", () => box.remove());
  box.append(text, close);
  region.append(box);
}

async function poll() {
  let answer;
  try {
    const response = await fetch(region.dataset.ordersUrl, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } });
    if (!response.ok) return;
    answer = await response.json();
  } catch {
    return; // offline for a moment: the next poll catches up
  }
  const before = seen();
  const now = {};
  for (const order of answer.orders || []) {
    now[order.id] = order.status;
    // Only changes seen happening: the tab's first look does not announce every old order.
    if (before && before[order.id] !== order.status && ENDING[order.status]) notice(order);
  }
  window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ ...(before || {}), ...now }));
}

if (region) {
  poll();
  window.setInterval(poll, POLL_MILLISECONDS);
}
