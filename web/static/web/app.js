// Shared by every page: CSRF-protected JSON requests, the browser wallet (EIP-1193) and announcements.
import { selectedProvider } from "./wallets.js";

// --- Requests ------------------------------------------------------------------------------------

export function csrfToken() {
  // The cookie is read first: it stays current when the server rotates the token (at sign-in).
  const cookieName = document.querySelector('meta[name="csrf-cookie"]')?.content || "csrftoken";
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === cookieName) return decodeURIComponent(rest.join("="));
  }
  return document.querySelector('meta[name="csrf-token"]')?.content || "";
}

/** A JSON request to our own server; never throws. Resolves to {ok, status, data}. */
export async function api(method, url, body) {
  const options = {
    method,
    credentials: "same-origin",
    cache: "no-store",
    headers: { Accept: "application/json" },
  };
  if (method !== "GET" && method !== "HEAD") options.headers["X-CSRFToken"] = csrfToken();
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch {
    return {
      ok: false,
      status: 0,
      data: { error: "The server could not be reached. Check your connection and try again.", code: "network_error" },
    };
  }
  let data;
  try {
    data = await response.json();
  } catch {
    data = { error: `The server answered ${response.status} without an explanation. Try again.`, code: "bad_response" };
  }
  if (response.status === 401 && data && data.code === "not_signed_in") {
    data.error = "Your session has ended. Sign in with your wallet again to continue.";
  }
  return { ok: response.ok, status: response.status, data };
}

// --- Announcements and messages -----------------------------------------------------------------

/** Read a sentence out to screen-reader users without moving their focus. */
export function announce(text) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  // A fresh text node after a tick, so the same sentence twice in a row is announced twice.
  window.setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/** Put sentences in a notice box (role=alert boxes are read out when filled), or empty it. */
export function showNotice(element, sentences, { focus = false } = {}) {
  if (!element) return;
  element.replaceChildren();
  const list = Array.isArray(sentences) ? sentences : [sentences];
  for (const sentence of list.filter(Boolean)) {
    const paragraph = document.createElement("p");
    paragraph.textContent = sentence;
    element.append(paragraph);
  }
  element.hidden = element.childElementCount === 0;
  if (focus && !element.hidden) {
    if (!element.hasAttribute("tabindex")) element.setAttribute("tabindex", "-1");
    element.focus();
  }
}

// --- Wallet ------------------------------------------------------------------------------------------

// EIP-1193 and EIP-1474 error codes a person can act on.
export const USER_REJECTED = 4001;
export const UNAUTHORIZED = 4100;
export const UNSUPPORTED_METHOD = 4200;
export const DISCONNECTED = 4900;
export const CHAIN_DISCONNECTED = 4901;
export const UNRECOGNIZED_CHAIN = 4902;
export const REQUEST_PENDING = -32002;

const CHAIN_NAMES = {
  1: "Ethereum",
  10: "OP Mainnet",
  56: "BNB Smart Chain",
  137: "Polygon",
  8453: "Base",
  42161: "Arbitrum One",
  80002: "Polygon Amoy",
  11155111: "Sepolia",
};

export function chainName(chainId) {
  return CHAIN_NAMES[chainId] ? `${CHAIN_NAMES[chainId]} (chain id ${chainId})` : `chain id ${chainId}`;
}

export function walletProvider() {
  // The wallet chosen among those found by EIP-6963, falling back to window.ethereum (web/wallets.js).
  return selectedProvider();
}

export const NO_WALLET_MESSAGE =
  "No Ethereum wallet was found in this browser. Install a wallet browser extension, or open this page " +
  "in your wallet app's built-in browser, then reload the page.";

/** A sentence for a failed wallet request; `action` completes "You declined …". */
export function walletErrorMessage(error, action) {
  const code = error && typeof error === "object" ? Number(error.code) : NaN;
  switch (code) {
    case USER_REJECTED:
      return `You declined ${action} in your wallet.`;
    case UNAUTHORIZED:
      return "Your wallet has not allowed this site to use the account. Press Connect wallet and approve the connection.";
    case UNSUPPORTED_METHOD:
      return "Your wallet does not support this kind of request. Try a different wallet.";
    case DISCONNECTED:
    case CHAIN_DISCONNECTED:
      return "Your wallet is not connected to a network right now. Check your wallet and try again.";
    case REQUEST_PENDING:
      return "Your wallet already has a request waiting. Open your wallet, finish or dismiss it, then try again.";
    default: {
      const detail = error && error.message ? ` (${String(error.message).slice(0, 200)})` : "";
      return `Your wallet could not complete the request${detail}. Try again.`;
    }
  }
}

export async function walletChainId(provider) {
  const raw = await provider.request({ method: "eth_chainId" });
  return Number.parseInt(String(raw), 16);
}

/** Ask the wallet to move to `chainId`; resolves to null when done, or a sentence saying why not. */
export async function switchChain(provider, chainId) {
  try {
    await provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId: `0x${chainId.toString(16)}` }] });
    return null;
  } catch (error) {
    if (Number(error?.code) === UNRECOGNIZED_CHAIN) {
      return `Your wallet does not know ${chainName(chainId)} yet. Add that network in your wallet, then try again.`;
    }
    return walletErrorMessage(error, "the network switch");
  }
}

/** The text as 0x-prefixed UTF-8 hex, the form personal_sign expects. */
export function utf8Hex(text) {
  const bytes = new TextEncoder().encode(text);
  return `0x${Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("")}`;
}

export function shortAddress(address) {
  return address && address.length > 12 ? `${address.slice(0, 6)}…${address.slice(-4)}` : address || "";
}
