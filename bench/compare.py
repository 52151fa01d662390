"""Two commits on ``bench/export.py``, alternated: did the ratios against ``COPY`` get worse?

    .venv/bin/python bench/compare.py --base 04bb56a [--head HEAD] [--rounds 4] \\
        -- --records 1000000,10000000

The check behind "``bench/export.py``'s ratios against DuckDB ``COPY`` must not get worse", as it
has been run by hand (``docs/benchmarks.md``), in one command. On a shared machine the same
``COPY`` moves by 10-20 % from one run to the next, so one run of each side says little; this
alternates them (base, head, base, head, ...) and compares medians.

- Each ref gets a git worktree of its own under ``bench/out/compare/<commit>`` (made once, then
  reused), with its own ``bench/out``: an older commit's code migrates its data directories
  its own way.
- This checkout's ``bench/export.py``, ``serving.py`` and ``process_cpu.py`` are copied into each
  worktree, so both sides are measured by the same script (older commits lack its CPU columns).
- Both sides run with this interpreter (``sys.executable``: one virtual environment, one DuckDB)
  and ``PYTHONPATH=<worktree>/src`` plus a ``sitecustomize.py`` that imports pandas. Before
  2026-12, the code's first query through a fresh ``serve`` imported pandas (about 0.3 s);
  importing it at start-up on both sides keeps that out of the task's time.
- The arguments after ``--`` go to ``bench/export.py`` unchanged.

Printed per records and format: each side's task seconds and ratio to ``COPY`` per run, their
medians, the median CPU-seconds, and head / base of the median seconds. A failed run of either
side (``bench/export.py`` exiting non-zero) stops the comparison with status 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import export

BENCH = Path(__file__).resolve().parent
REPOSITORY = BENCH.parent
WORKTREES = export.OUT / "compare"
COPIED_SCRIPTS = ("export.py", "serving.py", "process_cpu.py")
TASK_COLUMNS = 15
"""Fields of a row of ``bench/export.py``'s task table (see ``export.TASK_HEADER``)."""


@dataclass(frozen=True)
class Run:
    """One row of one run: ``COPY``'s and the task's seconds and CPU-seconds."""

    copy_seconds: float
    seconds: float
    ratio: float
    cpu_seconds: float


def commit_of(ref: str) -> str:
    """Return the full commit id ``ref`` names. Raises SystemExit when it names none."""
    result = subprocess.run(
        ["git", "-C", str(REPOSITORY), "rev-parse", "--verify", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"compare: {ref!r} is not a commit: {result.stderr.strip()}")
    return result.stdout.strip()


def worktree(commit: str) -> Path:
    """Return a worktree of ``commit`` with this checkout's bench scripts, making it if needed."""
    path = WORKTREES / commit[:12]
    if not (path / "src").is_dir():
        shutil.rmtree(path, ignore_errors=True)
        subprocess.run(["git", "-C", str(REPOSITORY), "worktree", "prune"], check=True)
        subprocess.run(
            ["git", "-C", str(REPOSITORY), "worktree", "add", "--detach", str(path), commit],
            check=True,
            capture_output=True,
        )
    (path / "bench").mkdir(exist_ok=True)
    for name in COPIED_SCRIPTS:
        shutil.copy2(BENCH / name, path / "bench" / name)
    site = path / "bench" / "out" / "site"
    site.mkdir(parents=True, exist_ok=True)
    (site / "sitecustomize.py").write_text("import pandas  # noqa: F401\n")
    return path


def run_side(path: Path, export_arguments: list[str]) -> dict[tuple[str, str], Run]:
    """Run ``bench/export.py`` in the worktree ``path``; return its task table by (records,
    format). Raises SystemExit when the run fails."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(path / "src"), str(path / "bench" / "out" / "site")]
    )
    result = subprocess.run(
        [sys.executable, "bench/export.py", *export_arguments],
        cwd=path,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise SystemExit(f"compare: bench/export.py failed in {path}:\n{tail}")
    return parse_table(result.stdout)


def parse_table(output: str) -> dict[tuple[str, str], Run]:
    """Return the rows of the task table in ``bench/export.py``'s output."""
    rows: dict[tuple[str, str], Run] = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) != TASK_COLUMNS or fields[1] not in export.FORMATS:
            continue
        try:
            rows[(fields[0], fields[1])] = Run(
                copy_seconds=float(fields[3]),
                seconds=float(fields[5]),
                ratio=float(fields[7]),
                cpu_seconds=float(fields[13]),
            )
        except ValueError:
            continue
    return rows


def report(sides: dict[str, dict[tuple[str, str], list[Run]]], names: dict[str, str]) -> None:
    """Print each row's runs and medians for both sides."""
    print()
    print("seconds of the task (median), ratio to COPY (median), CPU-s (median); head/base")
    for key in sides["base"]:
        print(f"{key[0]:>12} {key[1]}")
        medians, ratio_medians = {}, {}
        for side in ("base", "head"):
            runs = sides[side].get(key, [])
            if not runs:
                continue
            seconds = statistics.median(run.seconds for run in runs)
            medians[side] = seconds
            ratio_medians[side] = statistics.median(run.ratio for run in runs)
            listed = ", ".join(f"{run.seconds:.2f}" for run in runs)
            ratios = ", ".join(f"{run.ratio:.2f}" for run in runs)
            print(
                f"    {side} {names[side][:9]}: {listed} (median {seconds:.2f} s); "
                f"× COPY {ratios} (median {ratio_medians[side]:.2f}); "
                f"CPU {statistics.median(run.cpu_seconds for run in runs):.2f} s"
            )
        if len(medians) == 2:
            print(
                f"    head/base: median seconds {medians['head'] / medians['base']:.3f}, "
                f"median ratio to COPY {ratio_medians['head'] / ratio_medians['base']:.3f}"
            )


def parse_arguments() -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", required=True, help="the commit to compare against")
    parser.add_argument("--head", default="HEAD", help="the commit to compare (default HEAD)")
    parser.add_argument("--rounds", type=int, default=4, help="base-then-head rounds (default 4)")
    arguments, rest = parser.parse_known_args()
    if arguments.rounds < 1:
        parser.error("--rounds must be at least 1")
    if rest and rest[0] == "--":
        rest = rest[1:]
    return arguments, rest


def main() -> int:
    arguments, export_arguments = parse_arguments()
    names = {"base": commit_of(arguments.base), "head": commit_of(arguments.head)}
    paths = {side: worktree(commit) for side, commit in names.items()}
    sides: dict[str, dict[tuple[str, str], list[Run]]] = {
        "base": defaultdict(list),
        "head": defaultdict(list),
    }
    for round_number in range(1, arguments.rounds + 1):
        for side in ("base", "head"):
            print(f"round {round_number}: {side} {names[side][:9]}", flush=True)
            for key, run in run_side(paths[side], export_arguments).items():
                sides[side][key].append(run)
                print(
                    f"    {key[0]:>12} {key[1]:<8} ours {run.seconds:.2f} s, "
                    f"COPY {run.copy_seconds:.2f} s, × {run.ratio:.2f}",
                    flush=True,
                )
    report(sides, names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
