"""Benchmark: the identifier pipeline's throughput on one core, next to the raw biip.parse ceiling.

Usage: python bench/bench_identifiers.py [--n 20000] [--smoke]

Mixed input as a kiosk meets it: EAN-13 and UPC-A from the camera, GS1 DataMatrix element strings with
serial/lot/expiry, Digital Link URIs (QR and NFC), Swedish variable-measure labels. The ceiling is one
``biip.parse`` call per code (what any GS1-aware reader must pay); the pipeline adds validation, the
product key and the refusal reasons. --smoke: 200 codes, to prove the bench still runs.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _cpu_quota as cpu_quota
import biip
from biip import ParseConfig
from biip.rcn import RcnRegion

from edge_agent.identifiers.gtin import gtin_check_digit
from edge_agent.identifiers.product_key import GS, parse_code

SE = ParseConfig(rcn_region=RcnRegion.SWEDEN)


def corpus(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    for i in range(n):
        body = "".join(rng.choice("0123456789") for _ in range(10))
        g13 = "4" + "0" + body
        g13 += str(gtin_check_digit(g13))
        g14 = "0" + g13
        match i % 4:
            case 0:
                out.append((g13, "]E0"))
            case 1:
                out.append((f"01{g14}21S{i:06d}{GS}10LOT{i % 97}{GS}17271231", "]d2"))
            case 2:
                out.append((f"https://id.gs1.org/01/{g14}/21/S{i}", ""))
            case _:
                rcn = "23" + body[:5] + "0" + f"{i % 9999:04d}"[:4]
                rcn = rcn[:12]
                out.append((rcn + str(gtin_check_digit(rcn)), "]E0"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--smoke", action="store_true", help="200 codes (--n 200)")
    cpu_quota.add_argument(parser)
    args = parser.parse_args()
    cpu_quota.from_args(args)
    if args.smoke:
        args.n = 200
    codes = corpus(args.n)
    t0 = time.perf_counter()
    for text, sym in codes:
        biip.parse(text if text.startswith("http") else sym + text, config=SE)
    raw_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    failures = 0
    for text, sym in codes:
        try:
            parse_code(text, sym, rcn_region=RcnRegion.SWEDEN)
        except ValueError:
            failures += 1
    ours_s = time.perf_counter() - t0
    print(f"codes: {len(codes)} (EAN-13, GS1 DataMatrix, Digital Link, variable measure), refused: {failures}")
    print(f"raw biip.parse       : {len(codes) / raw_s:10,.0f} codes/s")
    print(f"edge-agent parse_code: {len(codes) / ours_s:10,.0f} codes/s   ratio {raw_s / ours_s:.2f}x of the ceiling")


if __name__ == "__main__":
    main()
