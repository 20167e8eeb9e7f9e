"""EA2 app codes through the real camera, agent, Mosquitto and central simulator: the platform signs with its
Ed25519 private key, the kiosk holds only the public key, and the merge grant is a fingerprint the platform
accepts because it issued the credential for that profile cart (it holds no key that could check an HMAC proof).

A device's identity files give a thief nothing that signs: tokens made with what is on the device are refused."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge_agent.config import AgentConfig
from edge_agent.domain.session import SessionState
from edge_agent.identifiers.gtin import normalise_gtin
from edge_agent.identity import ed25519
from edge_agent.identity.tokens import MERGE_GRANT_ATTR, Claims, issue_token, sign_token
from simulators.camera import DEMO_CODES, demo_script, write_scan_video
from simulators.central import CentralPlatform
from tests.e2e.test_app_qr_session import reader_done
from tests.e2e.test_nfc_session import ONLINE_HAT, PROFILE_CART, PSEUDONYM, send_ui_command, session_of
from tests.support.broker import MosquittoBroker
from tests.support.world import InProcessAgent, make_config, wait_until

AgentFactory = Callable[[AgentConfig], InProcessAgent]
PLATFORM_SEED = bytes.fromhex("5e" * 32)
"""The platform's Ed25519 private key: only the platform (here, the test playing it) has it."""
FIRST, SECOND = normalise_gtin(DEMO_CODES[0]), normalise_gtin(DEMO_CODES[1])


def app_claims(nonce: str) -> Claims:
    now = int(time.time())
    return Claims.model_validate(
        {
            "kind": "app",
            "sub": PSEUDONYM,
            "cart": PROFILE_CART,
            "consent": ["profile", "cart_sync"],
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
        }
    )


def public_key_file(tmp_path: Path) -> Path:
    """All the identity material the platform puts on the device: its public key."""
    key_file = tmp_path / "platform-identity.pub"
    key_file.write_text(ed25519.public_key(PLATFORM_SEED).hex() + "\n")
    return key_file


def public_key_config(tmp_path: Path, port: int, codes: list[str]) -> AgentConfig:
    video = write_scan_video(tmp_path / "kiosk.avi", demo_script(codes, hold=10, gap=10), fps=15, seed=11)
    key_file = public_key_file(tmp_path)
    raw: dict[str, Any] = make_config(tmp_path, port, video=video).model_dump(mode="json", exclude_none=True)
    raw["readers"]["barcode"]["formats"] = ["ean13", "qr"]
    raw["identity"] = {"public_key_files": [str(key_file)], "merge_policy": "sum"}
    return AgentConfig.model_validate(raw)


def test_an_ea2_app_code_identifies_and_merges_with_a_fingerprint_grant_the_platform_issued(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    central.open_profile_cart(PROFILE_CART, "acme", "s042")  # no trust_identity_keys: the platform shares no key
    central.add_online(PROFILE_CART, ONLINE_HAT)
    code = central.issue_credential(PLATFORM_SEED, app_claims("ea2-nonce-0001"))
    agent = agent_factory(public_key_config(tmp_path, broker.port, [DEMO_CODES[0], DEMO_CODES[1], code]))

    wait_until(lambda: reader_done(agent), 30, "the camera video played to its end")
    wait_until(lambda: session_of(agent).state is SessionState.MERGE_PREVIEW, 10, "merge preview")
    assert session_of(agent).identity.method == "qr"
    wait_until(
        lambda: (
            {ln.sku: ln.result_qty for ln in session_of(agent).preview.lines} == {FIRST: 1, SECOND: 1, ONLINE_HAT: 1}
        ),
        10,
        "preview with the online cart",
    )
    send_ui_command(broker, agent, "confirm_merge", session_of(agent).preview.preview_id)
    expected = {FIRST: 1, SECOND: 1, ONLINE_HAT: 1}
    wait_until(lambda: central.cart(PROFILE_CART) == expected, 15, "profile cart merged at the platform")

    grant = central.cart_attrs(PROFILE_CART)[MERGE_GRANT_ATTR]
    assert grant is not None and grant.startswith("fp:")
    assert code not in grant and code.split(".")[2] not in grant, "the grant is never the credential"
    assert central.held_ops("kiosk-01") == 0 and central.stats.grants == 1
    assert "EA2." not in (tmp_path / "kiosk-01.db").read_bytes().decode("latin-1"), "the credential is never stored"


def test_nothing_on_a_device_with_public_keys_mints_a_credential_it_accepts(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    """A thief with the SD card has the public key file. Used as a signing seed (EA2) or as an HMAC key (EA1),
    it makes tokens the agent refuses; the session stays anonymous and each refusal is counted by reason."""
    stolen = bytes.fromhex(public_key_file(tmp_path).read_text().strip())
    as_seed = sign_token(stolen, app_claims("forged-ea2-01"))
    as_hmac_key = issue_token(stolen, app_claims("forged-ea1-01"))
    agent = agent_factory(public_key_config(tmp_path, broker.port, [DEMO_CODES[0], as_seed, as_hmac_key]))

    wait_until(lambda: reader_done(agent), 30, "the camera video played to its end")
    wait_until(lambda: agent.basket() == {FIRST: 1}, 10, "the product scan counted")
    wait_until(
        lambda: (
            agent.agent is not None
            and agent.agent.basket.sessions.rejected["bad_signature"] == 1
            and agent.agent.basket.sessions.rejected["legacy_credential"] == 1
        ),
        10,
        "both forged codes refused with their reasons",
        details=lambda: agent.agent.basket.sessions.rejected if agent.agent else None,
    )
    assert session_of(agent).state is SessionState.ANONYMOUS
