// The fee authorization: explain what the PullFee signature allows, ask the wallet, send the signature.
import {
  NO_WALLET_MESSAGE,
  USER_REJECTED,
  announce,
  api,
  chainName,
  shortAddress,
  showNotice,
  switchChain,
  walletChainId,
  walletErrorMessage,
  walletProvider,
} from "./app.js";

const DECLINED_MESSAGE =
  "You declined to sign the fee authorization, so the order was not sent and no fee was taken. " +
  "It waits for your signature: use “Sign fee” in the orders table to sign it, or “Cancel” to drop it.";

const panel = document.getElementById("fee-consent");
const statusLine = document.getElementById("fee-consent-status");
const errorBox = document.getElementById("fee-consent-error");
const switchButton = document.getElementById("fee-consent-switch");
const closeButton = document.getElementById("fee-consent-close");
let pendingSwitch = null;

function refreshOrders() {
  document.dispatchEvent(new CustomEvent("orders:refresh"));
}

function setField(name, text) {
  const element = panel.querySelector(`[data-consent="${name}"]`);
  if (element) element.textContent = text;
}

function describeDeadline(unixSeconds) {
  const deadline = new Date(unixSeconds * 1000);
  const minutes = Math.max(0, Math.round((deadline.getTime() - Date.now()) / 60000));
  const local = deadline.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
  return `${local} (${deadline.toISOString().replace("T", " ").slice(0, 19)} UTC, in about ${minutes} minute${minutes === 1 ? "" : "s"})`;
}

function explain(request) {
  const basis = request.minimum_applied
    ? `the minimum fee; the rate of ${request.fee_bps} basis points of the order's value comes to less`
    : `${request.fee_bps} basis points of the order's value`;
  setField("amount", `${request.amount_usdc} USDC at most (${basis})`);
  setField("payer", `${request.payer} (your trading wallet)`);
  setField("contract", `the Parsec fee escrow contract ${request.escrow_contract} on ${chainName(request.chain_id)}`);
  setField("deadline", describeDeadline(request.deadline));
  setField("order", request.order_summary);
}

function fail(sentence) {
  statusLine.textContent = "";
  showNotice(errorBox, sentence, { focus: true });
}

function open() {
  showNotice(errorBox, []);
  switchButton.hidden = true;
  pendingSwitch = null;
  statusLine.textContent = "Loading the fee authorization…";
  panel.hidden = false;
}

/** Ask the signed-in wallet to sign the order's PullFee; resolves to true once the server accepted it. */
export async function authorizeFee(order) {
  if (!panel) return false;
  open();
  const detail = await api("GET", order.urls.detail);
  if (!detail.ok) {
    fail(detail.data.error);
    return false;
  }
  const request = detail.data.fee_request;
  if (!request) {
    statusLine.textContent = "This order does not need a fee signature any more.";
    refreshOrders();
    return false;
  }
  explain(request);
  // Focus moves to the explanation so keyboard and screen-reader users meet it before the wallet's prompt.
  panel.focus();

  const provider = walletProvider();
  if (!provider) {
    fail(`${NO_WALLET_MESSAGE} Your order waits for the fee signature meanwhile.`);
    return false;
  }
  let accounts;
  try {
    accounts = await provider.request({ method: "eth_requestAccounts" });
  } catch (error) {
    fail(`${walletErrorMessage(error, "the connection request")} Your order waits for the fee signature.`);
    return false;
  }
  const account = (accounts || []).find((item) => item.toLowerCase() === request.signer.toLowerCase());
  if (!account) {
    fail(
      `Your wallet is using account ${shortAddress((accounts || [])[0])}, but this fee must be signed by ` +
        `${request.signer}, the wallet you signed in with. Switch accounts in your wallet, then press “Sign fee”.`,
    );
    return false;
  }
  let chainId;
  try {
    chainId = await walletChainId(provider);
  } catch (error) {
    fail(walletErrorMessage(error, "telling us its network"));
    return false;
  }
  if (chainId !== request.chain_id) {
    fail(
      `Your wallet is on ${chainName(chainId)}, but the fee escrow is on ${chainName(request.chain_id)}. ` +
        "Switch your wallet's network, then sign.",
    );
    switchButton.textContent = `Switch to ${chainName(request.chain_id)}`;
    switchButton.hidden = false;
    pendingSwitch = { chainId: request.chain_id, order };
    return false;
  }

  statusLine.textContent = "Check your wallet: it shows the fee authorization to sign.";
  let signature;
  try {
    signature = await provider.request({
      method: "eth_signTypedData_v4",
      params: [account, JSON.stringify(request.typed_data)],
    });
  } catch (error) {
    fail(Number(error?.code) === USER_REJECTED ? DECLINED_MESSAGE : `${walletErrorMessage(error, "the signature")} Your order waits for the fee signature.`);
    refreshOrders();
    return false;
  }

  statusLine.textContent = "Checking the signature…";
  const sent = await api("POST", order.urls.sign_fee, { signature });
  if (!sent.ok) {
    fail(sent.data.error);
    refreshOrders();
    return false;
  }
  statusLine.textContent = "Fee authorization signed. Your order is on its way to the exchange.";
  announce("Fee authorization signed. Your order is on its way to the exchange.");
  refreshOrders();
  return true;
}

if (panel) {
  closeButton.addEventListener("click", () => {
    panel.hidden = true;
    document.getElementById("main")?.focus();
  });
  switchButton.addEventListener("click", async () => {
    if (!pendingSwitch) return;
    const { chainId, order } = pendingSwitch;
    const provider = walletProvider();
    if (!provider) {
      fail(NO_WALLET_MESSAGE);
      return;
    }
    const problem = await switchChain(provider, chainId);
    if (problem) {
      fail(problem);
      return;
    }
    await authorizeFee(order);
  });
}
