"""Interop with a real wallet stack: ethers.js v6 signs what we issue, and verifies what eth-account signs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from eth_account import Account
from factories import make_eth_account

from fees import services
from fees.models import FeeAuthorization

SCRIPTS = Path(__file__).parent / "js"


def run_node(script: str, payload: dict) -> dict:
    """Run one of the node scripts with JSON on stdin (keys never on the command line), JSON back."""
    ethers = Path(settings.BASE_DIR) / "node_modules" / "ethers" / "package.json"
    if not ethers.exists():
        pytest.fail(
            "ethers.js is not installed: node_modules/ethers is missing. Run `make install` (it runs "
            "`npm ci --no-audit --no-fund` from package-lock.json) before the tests."
        )
    node = shutil.which("node")
    if node is None:
        pytest.fail(
            "Node.js is not installed: the wallet interop tests need `node` on PATH (Debian: nodejs)."
        )
    # Our own script with a fixed path; the payload travels on stdin.
    result = subprocess.run(  # noqa: S603
        [node, str(SCRIPTS / script)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=settings.BASE_DIR,
        check=False,
    )
    assert result.returncode == 0, f"node {script} failed: {result.stderr[-2000:]}"
    return json.loads(result.stdout)


def test_a_signature_made_by_ethers_over_the_typed_data_we_issue_is_accepted(fee_customer, request_fee):
    authorization = request_fee()
    signed = run_node(
        "sign.mjs",
        {"private_key": "0x" + bytes(fee_customer.signer.key).hex(), "typed_data": authorization.typed_data},
    )
    assert signed["address"] == fee_customer.signer.address
    verified = services.fee_authorization_verify(
        fee_authorization_id=authorization.pk, signature=signed["signature"], now=authorization.created_at
    )
    assert verified.state == FeeAuthorization.State.SIGNED
    assert verified.recovered_signer == fee_customer.signer.address


def test_a_signature_made_with_eth_account_verifies_in_ethers_to_the_same_address(request_fee):
    authorization = request_fee()
    account = make_eth_account("interop")
    signature = (
        "0x"
        + bytes(Account.sign_typed_data(account.key, full_message=authorization.typed_data).signature).hex()
    )
    recovered = run_node("verify.mjs", {"typed_data": authorization.typed_data, "signature": signature})
    assert recovered["address"] == account.address
