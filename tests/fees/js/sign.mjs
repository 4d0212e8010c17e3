// Signs an EIP-712 message as a wallet built on ethers.js v6 would.
// stdin: {"private_key": "0x...", "typed_data": {types, primaryType, domain, message}} (the key never on argv)
// stdout: {"address": "0x...", "signature": "0x..."}
import { Wallet } from "ethers";

const input = JSON.parse(await new Response(process.stdin).text());
const wallet = new Wallet(input.private_key);
const { EIP712Domain, ...types } = input.typed_data.types; // ethers derives the domain type itself
const signature = await wallet.signTypedData(input.typed_data.domain, types, input.typed_data.message);
process.stdout.write(JSON.stringify({ address: wallet.address, signature }));
