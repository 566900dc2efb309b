"""Run every benchmark at a small and a large size and print one table with the
large/small ratio of each figure (how cost grows with the data).

    python -m bench.run [--size small|large|all] [--only NAME]   (or: prm bench, make bench)
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import (
    accounts,
    api_reads,
    catalog,
    claims,
    lead_import,
    load,
    metrics,
    realtime,
    routing,
)
from bench.harness import Figure, scratch_database

BENCHMARKS = [api_reads, accounts, claims, routing, lead_import, catalog, metrics, realtime, load]


def _format(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit in ("rows", "count", "stmts"):
        return f"{value:,.0f}"
    if unit == "x":
        return f"{value:.2f}"
    return f"{value:,.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=["small", "large", "all"], default="all")
    parser.add_argument(
        "--only",
        choices=[module.NAME for module in BENCHMARKS],
        help="run just the benchmark of this name (e.g. api_reads)",
    )
    args = parser.parse_args()
    sizes = ["small", "large"] if args.size == "all" else [args.size]

    results: dict[str, dict[tuple[str, str], Figure]] = {size: {} for size in sizes}
    order: list[tuple[str, str]] = []
    for module in BENCHMARKS:
        if args.only and args.only != module.NAME:
            continue
        for size in sizes:
            with scratch_database() as url, tempfile.TemporaryDirectory() as workdir:
                for figure in module.run(url, size, Path(workdir)):
                    key = (figure.bench, figure.metric)
                    if key not in order:
                        order.append(key)
                    results[size][key] = figure

    print(f"prm benchmarks, {datetime.date.today()}, {os.cpu_count()} cores")
    header = f"| benchmark | figure | {' | '.join(sizes)} |" + (
        " large/small |" if len(sizes) == 2 else ""
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for key in order:
        figures = [results[size].get(key) for size in sizes]
        unit = next(f.unit for f in figures if f is not None)
        cells = [_format(f.value if f else None, unit) for f in figures]
        line = f"| {key[0]} | {key[1]} ({unit}) | {' | '.join(cells)} |"
        if len(sizes) == 2:
            small, large = figures
            ratio = large.value / small.value if small and large and small.value else None
            line += f" {ratio:.2f} |" if ratio is not None else " - |"
        print(line)


if __name__ == "__main__":
    main()
