// Sign-In with Ethereum: connect the wallet, check its network, sign the server's EIP-4361 message.
import {
  NO_WALLET_MESSAGE,
  USER_REJECTED,
  announce,
  api,
  chainName,
  showNotice,
  switchChain,
  utf8Hex,
  walletChainId,
  walletErrorMessage,
  walletProvider,
} from "./app.js";
import { chooseWallet, chosenWalletKey, discoveredWallets, onWalletsChange } from "./wallets.js";

const root = document.querySelector("[data-signin]");
const connectButton = document.getElementById("connect-wallet");
const statusLine = document.getElementById("signin-status");
const errorBox = document.getElementById("signin-error");
const wrongChain = document.getElementById("wrong-chain");
const wrongChainText = document.getElementById("wrong-chain-text");
const switchButton = document.getElementById("switch-chain");
const expectedChainId = Number(root.dataset.chainId);

function setStatus(text) {
  statusLine.textContent = text;
}

function fail(sentences, { kind = "error" } = {}) {
  setStatus("");
  errorBox.dataset.kind = kind;
  showNotice(errorBox, sentences, { focus: true });
  connectButton.disabled = false;
}

function clearMessages() {
  showNotice(errorBox, []);
  delete errorBox.dataset.kind;
  wrongChain.hidden = true;
  setStatus("");
}

async function connect() {
  clearMessages();
  const provider = walletProvider();
  if (!provider) {
    fail(NO_WALLET_MESSAGE, { kind: "no_wallet" });
    return;
  }
  connectButton.disabled = true;
  setStatus("Waiting for your wallet to share an account…");

  let address;
  try {
    const accounts = await provider.request({ method: "eth_requestAccounts" });
    address = Array.isArray(accounts) ? accounts[0] : null;
  } catch (error) {
    fail(walletErrorMessage(error, "the connection request") + " You are not signed in; press Connect wallet to try again.", {
      kind: Number(error?.code) === USER_REJECTED ? "rejected" : "wallet_error",
    });
    return;
  }
  if (!address) {
    fail("Your wallet did not share an account. Unlock your wallet, then press Connect wallet again.", {
      kind: "wallet_error",
    });
    return;
  }

  let chainId;
  try {
    chainId = await walletChainId(provider);
  } catch (error) {
    fail(walletErrorMessage(error, "telling us its network"), { kind: "wallet_error" });
    return;
  }
  if (chainId !== expectedChainId) {
    setStatus("");
    connectButton.disabled = false;
    wrongChainText.textContent =
      `Your wallet is on ${chainName(chainId)}, but this site works on ${chainName(expectedChainId)} only. ` +
      "Switch your wallet's network to continue; nothing has been signed.";
    wrongChain.hidden = false;
    wrongChain.focus();
    return;
  }

  setStatus("Preparing the sign-in message…");
  const challenge = await api("POST", root.dataset.challengeUrl, { address, chain_id: chainId });
  if (!challenge.ok) {
    fail(challenge.data.error, { kind: "server_error" });
    return;
  }

  setStatus("Check your wallet: sign the message to prove this address is yours. It costs nothing.");
  let signature;
  try {
    signature = await provider.request({ method: "personal_sign", params: [utf8Hex(challenge.data.message), address] });
  } catch (error) {
    if (Number(error?.code) === USER_REJECTED) {
      fail(
        "You declined to sign the sign-in message, so you are not signed in. Nothing was shared or spent. " +
          "Press Connect wallet whenever you want to try again.",
        { kind: "rejected" },
      );
    } else {
      fail(walletErrorMessage(error, "the signature request"), { kind: "wallet_error" });
    }
    return;
  }

  setStatus("Checking the signature…");
  const verified = await api("POST", root.dataset.verifyUrl, { address, message: challenge.data.message, signature });
  if (!verified.ok) {
    fail(verified.data.error, { kind: "server_error" });
    return;
  }
  setStatus("Signed in. Opening your account…");
  announce("Signed in.");
  // Back to the page that asked for sign-in, or to the account page, which shows the set-up progress.
  window.location.assign(root.dataset.next || verified.data.next || "/");
}

connectButton.addEventListener("click", connect);

switchButton.addEventListener("click", async () => {
  const provider = walletProvider();
  if (!provider) {
    fail(NO_WALLET_MESSAGE, { kind: "no_wallet" });
    return;
  }
  switchButton.disabled = true;
  const problem = await switchChain(provider, expectedChainId);
  switchButton.disabled = false;
  if (problem) {
    wrongChain.hidden = true;
    fail(problem, { kind: "wallet_error" });
    return;
  }
  await connect();
});

// --- Several wallets (EIP-6963) ---------------------------------------------------------------------

const choiceBox = document.getElementById("wallet-choice");
const choiceList = document.getElementById("wallet-choices");

function showWalletChoices() {
  const wallets = discoveredWallets();
  choiceBox.hidden = wallets.length < 2;
  if (choiceBox.hidden) return;
  const chosen = chosenWalletKey() || wallets[0].key;
  chooseWallet(chosen);
  choiceList.replaceChildren(
    ...wallets.map((wallet) => {
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.type = "radio";
      input.name = "wallet";
      input.value = wallet.key;
      input.checked = wallet.key === chosen;
      input.addEventListener("change", () => chooseWallet(wallet.key));
      label.append(input, ` ${wallet.name}`);
      return label;
    }),
  );
}

onWalletsChange(showWalletChoices);
showWalletChoices();
