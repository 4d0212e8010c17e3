// Recovers the signer of an EIP-712 signature with ethers.js v6.
// stdin: {"typed_data": {types, primaryType, domain, message}, "signature": "0x..."}
// stdout: {"address": "0x..."}
import { verifyTypedData } from "ethers";

const input = JSON.parse(await new Response(process.stdin).text());
const { EIP712Domain, ...types } = input.typed_data.types;
const address = verifyTypedData(input.typed_data.domain, types, input.typed_data.message, input.signature);
process.stdout.write(JSON.stringify({ address }));
