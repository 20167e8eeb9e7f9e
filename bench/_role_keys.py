"""The key files a shipped ``device_config/<role>.toml`` names (``/etc/edge-agent/...`` on a device), made up in a
bench's temporary directory, and the lines a fresh interpreter runs to point a loaded config at them.

The shipped configs hold EA2 public keys (``[identity] public_key_files``) and, on the kiosk, its own claim key
(``[claim] key_file``): building them imports PyNaCl, as on a store's device, so the memory and startup figures
are those of the configs as shipped. The standard library only: bench_memory.py's launcher must fork lean.
"""

from __future__ import annotations

from pathlib import Path

PUBLIC_KEY_HEX = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
"""RFC 8032 section 7.1, test 1's public key: a valid Ed25519 point (the bench verifies nothing with it)."""
CLAIM_KEY_HEX = "00" * 32
"""Any 32 bytes: the bench signs no claim link."""

POINT_AT_KEYS = """
if config.identity is not None:
    config.identity.public_key_files, config.identity.key_files = [Path(sys.argv[2])], []
if config.claim is not None:
    config.claim.key_file = Path(sys.argv[3])
"""
"""Run after ``config = load_config(sys.argv[1])`` with ``sys``, ``Path`` imported; argv[2:4] are
:func:`write_keys`' files."""


def write_keys(workdir: Path) -> list[str]:
    """The public identity key and the claim key, as argv[2:4] for :data:`POINT_AT_KEYS`."""
    public, claim = workdir / "identity.pub", workdir / "claim.key"
    public.write_text(PUBLIC_KEY_HEX + "\n")
    claim.write_text(CLAIM_KEY_HEX + "\n")
    claim.chmod(0o600)  # as on a device: a secret
    return [str(public), str(claim)]
