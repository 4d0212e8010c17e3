// Wallet discovery by EIP-6963: every injected wallet announces itself (name, icon, rdns, provider), so
// several can be offered by name instead of whichever one won window.ethereum. The person's choice is
// remembered in this browser; with no announcement at all, window.ethereum (EIP-1193) is used as before.
const CHOICE_KEY = "walletRdns";
const announced = new Map(); // rdns (or uuid) -> {info, provider}
const listeners = new Set();

window.addEventListener("eip6963:announceProvider", (event) => {
  const detail = event.detail;
  if (!detail || !detail.info || !detail.provider || typeof detail.provider.request !== "function") return;
  const key = String(detail.info.rdns || detail.info.uuid || detail.info.name);
  if (announced.has(key)) return;
  announced.set(key, { key, name: String(detail.info.name || key).slice(0, 60), provider: detail.provider });
  for (const listener of listeners) listener();
});
window.dispatchEvent(new Event("eip6963:requestProvider"));

/** The wallets found so far, in the order they announced themselves. */
export function discoveredWallets() {
  return Array.from(announced.values(), ({ key, name }) => ({ key, name }));
}

/** Call `listener` whenever another wallet announces itself. */
export function onWalletsChange(listener) {
  listeners.add(listener);
}

export function chosenWalletKey() {
  try {
    const key = window.localStorage.getItem(CHOICE_KEY);
    return key && announced.has(key) ? key : null;
  } catch {
    return null;
  }
}

export function chooseWallet(key) {
  if (!announced.has(key)) return;
  try {
    window.localStorage.setItem(CHOICE_KEY, key);
  } catch {
    // private mode: the choice lasts for this page only
  }
  chosenInPage = key;
}

let chosenInPage = null;

/** The provider to use: the chosen announced wallet, else the only one, else window.ethereum. */
export function selectedProvider() {
  const key = chosenInPage && announced.has(chosenInPage) ? chosenInPage : chosenWalletKey();
  if (key) return announced.get(key).provider;
  if (announced.size === 1) return announced.values().next().value.provider;
  if (window.ethereum && typeof window.ethereum.request === "function") return window.ethereum;
  if (announced.size) return announced.values().next().value.provider;
  return null;
}
