"""Values the contract's examples share: one device epoch, one source, one op."""

from __future__ import annotations

from uuid import UUID

from edge_agent.domain.ops import CartOp, OpKind

EXAMPLE_EPOCH = "5f1c2a9b3d4e6f70"
EXAMPLE_SOURCE = "urn:acme:store:s042:device:kiosk-01"
EXAMPLE_OP = CartOp(
    op_id=f"kiosk-01:{EXAMPLE_EPOCH}:41",
    uuid=UUID("8c1d6a4e-6d0b-4f6e-9a57-1f0b7e0c2d11"),
    device="kiosk-01",
    epoch=EXAMPLE_EPOCH,
    seq=41,
    cart_id="kiosk-01-3f9a8b7c6d5e",
    kind=OpKind.ADD,
    hlc=117665082339426305,
    sku="04006381333931",
    qty=1,
)
