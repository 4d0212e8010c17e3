// Account set-up progress: polls the account endpoint until provisioning at Parsec has finished.
import { announce, api, showNotice } from "./app.js";

const POLL_MILLISECONDS = 1000;
const root = document.querySelector("[data-account]");
const summary = document.getElementById("account-summary");
const steps = document.getElementById("account-steps");
const payer = document.getElementById("account-payer");
const errorBox = document.getElementById("account-error");
const ready = document.getElementById("account-ready");
const MARKS = { done: "✓", failed: "✗", waiting: "…" };

function render(account) {
  for (const step of account.steps) {
    const item = steps.querySelector(`[data-step="${step.key}"]`);
    if (!item || item.dataset.state === step.state) continue;
    item.dataset.state = step.state;
    item.querySelector(".mark").textContent = MARKS[step.state] || "…";
    item.querySelector(".step-state").textContent = `(${step.state_label})`;
    if (step.state === "done") announce(`${step.label}: done.`);
  }
  if (summary.textContent !== account.summary) summary.textContent = account.summary;
  summary.dataset.status = account.status;
  if (account.payer_address) {
    payer.querySelector("[data-payer]").textContent = account.payer_address;
    payer.hidden = false;
  }
  showNotice(errorBox, account.error ? [account.error] : []);
  const wasHidden = ready.hidden;
  ready.hidden = account.status !== "active";
  if (wasHidden && !ready.hidden) announce("Your account is ready to trade.");
}

async function poll() {
  const answer = await api("GET", root.dataset.accountUrl);
  if (answer.ok) {
    render(answer.data);
    if (!answer.data.finished) window.setTimeout(poll, POLL_MILLISECONDS);
  } else if (answer.status === 401) {
    showNotice(errorBox, [answer.data.error]);
  } else {
    // A passing network or server problem: keep trying, a little slower.
    window.setTimeout(poll, POLL_MILLISECONDS * 3);
  }
}

if (summary.dataset.status === "provisioning") poll();
