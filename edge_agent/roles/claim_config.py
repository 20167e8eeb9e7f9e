"""The ``[claim]`` section: where the kiosk's "take my basket to my phone" link points. No section, no link."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

PlatformBase = Annotated[
    str, StringConstraints(pattern=r"^https://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?(/[A-Za-z0-9._-]+)*/?$")
]


class ClaimSection(BaseModel):
    """The online shop's base address; the link is ``{base_url}/claim/{token}``, signed with this device's claim key:
    the ``key_file`` the platform provisioned, or (legacy) derived from ``identity.key_files``. Without either the
    kiosk shows no link."""

    model_config = ConfigDict(extra="forbid")

    base_url: PlatformBase = Field(description="https only: the shopper signs in there; e.g. https://shop.example")
    key_file: Path | None = Field(
        default=None,
        description="this device's own claim key (hex), provisioned by the platform; needed with public_key_files",
    )
