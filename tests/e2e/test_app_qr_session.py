"""A shopper's app QR code, read by the camera through OpenCV and the real decoder, identifies the session.

The guest scans two products at the kiosk camera, then holds up the app's short-lived code; the preview
includes the online cart and nothing joins until the shopper confirms. An expired code is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge_agent.config import AgentConfig
from edge_agent.domain.session import SessionState
from edge_agent.identifiers.gtin import normalise_gtin
from edge_agent.identity.tokens import Claims, issue_token
from simulators.camera import DEMO_CODES, demo_script, write_scan_video
from simulators.central import CentralPlatform
from tests.e2e.test_nfc_session import KEY, ONLINE_HAT, PROFILE_CART, PSEUDONYM, send_ui_command, session_of
from tests.support.broker import MosquittoBroker
from tests.support.world import InProcessAgent, make_config, wait_until

AgentFactory = Callable[[AgentConfig], InProcessAgent]
FIRST, SECOND = normalise_gtin(DEMO_CODES[0]), normalise_gtin(DEMO_CODES[1])


def app_code(*, issued_s_ago: int = 0, ttl_s: int = 300, nonce: str = "app-nonce-0001") -> str:
    now = int(time.time()) - issued_s_ago
    claims = Claims(
        kind="app",
        sub=PSEUDONYM,
        cart=PROFILE_CART,
        consent=("profile", "cart_sync"),
        iat=now,
        exp=now + ttl_s,
        nonce=nonce,
    )  # type: ignore[arg-type]
    return issue_token(KEY, claims)


def camera_config(tmp_path: Path, port: int, codes: list[str]) -> AgentConfig:
    video = write_scan_video(tmp_path / "kiosk.avi", demo_script(codes, hold=10, gap=10), fps=15, seed=11)
    key_file = tmp_path / "identity.key"
    key_file.write_text(KEY.hex())
    raw: dict[str, Any] = make_config(tmp_path, port, video=video).model_dump(mode="json", exclude_none=True)
    raw["readers"]["barcode"]["formats"] = ["ean13", "qr"]
    raw["identity"] = {"key_files": [str(key_file)], "merge_policy": "sum"}
    return AgentConfig.model_validate(raw)


def reader_done(agent: InProcessAgent) -> bool:
    return agent.agent is not None and agent.agent.status.reader_health.get("barcode") == "stopped"


def test_an_app_qr_code_at_the_camera_identifies_the_shopper_and_the_merge_waits_for_confirmation(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    central.trust_identity_keys(KEY)  # merge grants verify under the key the platform signed the card with
    central.open_profile_cart(PROFILE_CART, "acme", "s042")
    central.add_online(PROFILE_CART, ONLINE_HAT)
    agent = agent_factory(camera_config(tmp_path, broker.port, [DEMO_CODES[0], DEMO_CODES[1], app_code()]))

    wait_until(lambda: reader_done(agent), 30, "the camera video played to its end")
    wait_until(lambda: session_of(agent).state is SessionState.MERGE_PREVIEW, 10, "merge preview")
    session = session_of(agent)
    assert session.identity.method == "qr"
    wait_until(
        lambda: (
            {ln.sku: ln.result_qty for ln in session_of(agent).preview.lines} == {FIRST: 1, SECOND: 1, ONLINE_HAT: 1}
        ),
        10,
        "preview with the online cart",
    )
    assert central.cart(PROFILE_CART) == {ONLINE_HAT: 1}, "nothing joins before the shopper confirms"

    send_ui_command(broker, agent, "confirm_merge", session_of(agent).preview.preview_id)
    expected = {FIRST: 1, SECOND: 1, ONLINE_HAT: 1}
    wait_until(lambda: central.cart(PROFILE_CART) == expected, 15, "profile cart merged at the platform")
    assert "EA1." not in (tmp_path / "kiosk-01.db").read_bytes().decode("latin-1"), "the credential is never stored"


def test_an_expired_app_code_is_refused_and_the_guest_basket_stays_anonymous(
    tmp_path: Path, broker: MosquittoBroker, central: CentralPlatform, agent_factory: AgentFactory
) -> None:
    stale = app_code(issued_s_ago=900, ttl_s=300)
    agent = agent_factory(camera_config(tmp_path, broker.port, [DEMO_CODES[0], stale]))

    wait_until(lambda: reader_done(agent), 30, "the camera video played to its end")
    wait_until(lambda: agent.basket() == {FIRST: 1}, 10, "the product scan counted")
    wait_until(
        lambda: agent.agent is not None and agent.agent.basket.sessions.rejected["expired_code"] == 1,
        10,
        "the expired code counted with its reason",
        details=lambda: agent.agent.basket.sessions.rejected if agent.agent else None,
    )
    assert session_of(agent).state is SessionState.ANONYMOUS
