"""The kiosk whose basket a shopper takes to their phone, as the claim, attribution and claim screen tests set it
up: the identity key the platform trusts, the shopper's profile cart open, and the basket taken while the kiosk is
offline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge_agent.config import AgentConfig
from edge_agent.contract.topics import Topics
from edge_agent.identity.claim_token import token_of_link
from simulators.central import CentralPlatform
from tests.support.tcp_proxy import TcpFaultProxy
from tests.support.world import InProcessAgent, make_config, wait_until

AgentFactory = Callable[[AgentConfig], InProcessAgent]
KEY = bytes.fromhex("22" * 32)
SHOP = "https://shop.example"
SHOES, SOCKS, HAT = "09506000134352", "04006381333931", "08710398502131"
PROFILE_CART = "profile-shopper-9"
GUEST = "kiosk-01-basket"
TOPICS = Topics("acme", "s042", "kiosk-01")


def claim_config(tmp_path: Path, port: int) -> AgentConfig:
    """A kiosk with the identity key and claim links to the shop, its guest basket ``GUEST``."""
    key_file = tmp_path / "identity.key"
    key_file.write_text(KEY.hex())
    key_file.chmod(0o600)
    raw: dict[str, Any] = make_config(tmp_path, port, cart_id=GUEST).model_dump(mode="json", exclude_none=True)
    raw["identity"] = {"key_files": [str(key_file)]}
    raw["claim"] = {"base_url": SHOP}
    return AgentConfig.model_validate(raw)


def claim_kiosk(tmp_path: Path, port: int, central: CentralPlatform, agent_factory: AgentFactory) -> InProcessAgent:
    """The platform trusts the kiosk's key and holds the shopper's (empty) profile cart; the kiosk connected."""
    central.trust_identity_keys(KEY)
    central.open_profile_cart(PROFILE_CART, "acme", "s042")
    agent = agent_factory(claim_config(tmp_path, port))
    wait_until(lambda: agent.connected, 10, "agent connected")
    return agent


def claim_while_offline(agent: InProcessAgent, central: CentralPlatform, proxy: TcpFaultProxy, *late: str) -> None:
    """A hat reaches the platform; the kiosk's uplink is cut, ``late`` lines are saved on the kiosk only; the
    shopper's phone (online) takes the basket: the platform joins the one line it has."""
    agent.scan(HAT)  # homes the device at its store
    wait_until(lambda: central.cart(GUEST) == {HAT: 1}, 20, "first line synced")
    proxy.black_hole()
    proxy.reset_all()
    wait_until(lambda: not agent.connected, 20, "the uplink is down")
    agent.scan(*late)
    wait_until(lambda: agent.basket() == {HAT: 1, **dict.fromkeys(late, 1)}, 10, "saved on the kiosk")
    token = token_of_link(agent.call(lambda: agent.agent.basket.claim.view.link))  # type: ignore[union-attr]
    assert token is not None
    assert central.claim(token, PROFILE_CART).units == 1, "what had reached the platform"
