"""``python -m benchmarks [NAME ...]``: run every ``benchmarks/bench_*.py`` (or those named)
and print their figures and ratios."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

from benchmarks import BenchResult


def discover() -> list[str]:
    here = Path(__file__).resolve().parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)])
                  if m.name.startswith("bench_"))


def render(result: BenchResult) -> str:
    lines = [f"== {result.title}"]
    width = max((len(f.label) for f in result.figures), default=0)
    for figure in result.figures:
        runs = ", ".join(f"{r:.2f}" for r in figure.runs)
        note = f"  {figure.note}" if figure.note else ""
        lines.append(f"  {figure.label:<{width}}  {figure.seconds:8.2f} s  (runs: {runs}){note}")
    for label, value in result.ratios:
        lines.append(f"  ratio  {label}: {value:.2f}x")
    lines += [f"  note   {n}" for n in result.notes]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    names = discover()
    wanted = [a if a.startswith("bench_") else f"bench_{a}" for a in argv]
    unknown = [w for w in wanted if w not in names]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(names)}",
              file=sys.stderr)
        return 2
    for name in wanted or names:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"running {name} ...", file=sys.stderr, flush=True)
        print(render(module.run()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
