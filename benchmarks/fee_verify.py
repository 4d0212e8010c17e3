"""Microseconds per PullFee signature: the strict verifier against bare eth-account, in the same run.

Signs BENCH_SIGNATURES (2,000) distinct PullFee messages with eth-account, then times, interleaved and
best of BENCH_ROUNDS (5): `parsec.contract.recover_pull_fee_signer` (strict: canonical signature, exact
typed-data shape) and eth-account's lenient path (`encode_typed_data(full_message=...)` +
`Account.recover_message`). Prints both, their ratio (the goal: strict within 10% of bare) and the
secp256k1 backend eth-keys uses (it must be coincurve; pure Python is about 45 times slower).
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eth_account import Account
from eth_account.messages import encode_typed_data

from parsec.contract import ecc_backend_name, pull_fee_typed_data, recover_pull_fee_signer

SIGNATURES = int(os.environ.get("BENCH_SIGNATURES", "2000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
CHAIN_ID = 137
ESCROW = "0x39F35887e583ed7d6eFf6fa472359371145ba549"


def signed_messages(count: int) -> list[tuple[dict, str, str]]:
    """(typed data, signature, signer) for `count` PullFee messages, each with its own escrow order id."""
    account = Account.create()
    payer = Account.create().address
    items = []
    for index in range(count):
        typed_data = pull_fee_typed_data(
            chain_id=CHAIN_ID,
            verifying_contract=ESCROW,
            order_id="0x" + secrets.token_bytes(32).hex(),
            payer=payer,
            fee_amount=137_500 + index,
            deadline=1_900_000_000 + index,
        )
        signature = (
            "0x" + bytes(Account.sign_typed_data(account.key, full_message=typed_data).signature).hex()
        )
        items.append((typed_data, signature, account.address))
    return items


def strict(items: list[tuple[dict, str, str]]) -> None:
    for typed_data, signature, signer in items:
        recovered = recover_pull_fee_signer(
            typed_data=typed_data, signature=signature, chain_id=CHAIN_ID, verifying_contract=ESCROW
        )
        if recovered != signer:
            raise SystemExit("strict verifier recovered the wrong signer")


def bare(items: list[tuple[dict, str, str]]) -> None:
    for typed_data, signature, signer in items:
        recovered = Account.recover_message(encode_typed_data(full_message=typed_data), signature=signature)
        if recovered != signer:
            raise SystemExit("eth-account recovered the wrong signer")


def seconds(run: Callable[[list], None], items: list) -> float:
    started = time.perf_counter()
    run(items)
    return time.perf_counter() - started


def main() -> None:
    backend = ecc_backend_name()
    print(f"eth-keys backend: {backend}")
    if "CoinCurve" not in backend:
        raise SystemExit(
            "coincurve is not active: install it (requirements/base.txt) before timing signatures"
        )
    items = signed_messages(SIGNATURES)
    strict(items[:100])  # warm caches (domain separator, imports) for both before timing
    bare(items[:100])
    best = {"strict": float("inf"), "bare": float("inf")}
    for round_number in range(ROUNDS):
        # Alternate which goes first so neither always runs on a warmer CPU.
        order = (
            (("strict", strict), ("bare", bare))
            if round_number % 2 == 0
            else (("bare", bare), ("strict", strict))
        )
        for name, run in order:
            best[name] = min(best[name], seconds(run, items))
    strict_us = best["strict"] / SIGNATURES * 1e6
    bare_us = best["bare"] / SIGNATURES * 1e6
    print(f"signatures: {SIGNATURES}, rounds: {ROUNDS} (best of)")
    print(f"strict recover_pull_fee_signer: {strict_us:8.1f} us per signature")
    print(f"bare eth-account:               {bare_us:8.1f} us per signature")
    print(f"strict / bare:                  {strict_us / bare_us:8.2f}  (goal: at most 1.10)")


if __name__ == "__main__":
    main()
