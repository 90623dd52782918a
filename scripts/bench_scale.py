"""How the incremental monthly run grows with the number of households.

    python scripts/bench_scale.py --data-dir /tmp/scale [--sizes 250000 500000 1000000 2000000]
                                  [--plot docs/img/bench_scale.png]

For each size, `scripts/bench_score.py --route incremental --json` in its own process (its
own Spark JVM, so each size's peak memory is its own), on <data-dir>/<size> (generated and
calibrated once, reused afterwards): `dmde ingest` of the month plus `dmde score` of the next
from the summaries. Prints seconds, households/s and the Spark JVM's peak memory per size, a
least-squares line seconds = a + b × households, and what that line gives for the 13.8
million households of the national run on these 2 cores and, assuming the per-household
part divides by the number of cores (which a cluster's shuffle and I/O only approach), on
16 cores; draws seconds against households with the line to a PNG. Each size's figures are
kept in <data-dir>/result-<size>.json; `--reuse` takes them from there (sizes measured one
at a time, then drawn together).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

NATIONAL = 13_800_000
CLUSTER_CORES = 16


def measure(size: int, data_dir: Path, month: str, reuse: bool) -> dict:
    saved = data_dir / f"result-{size}.json"
    if reuse and saved.exists():
        print(f"{size:,} households: the figures of {saved}")
        return json.loads(saved.read_text())
    command = [sys.executable, str(Path(__file__).with_name("bench_score.py")), "--households", str(size),
               "--data-dir", str(data_dir / str(size)), "--month", month, "--route", "incremental", "--json"]
    print("$ " + " ".join(command), flush=True)
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    print(out, flush=True)
    result = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[len("RESULT "):])
    saved.write_text(json.dumps(result))
    return result


def plot(results: list[dict], a: float, b: float, path: Path) -> None:
    x = np.array([r["households_next"] for r in results]) / 1e6
    y = np.array([r["incremental_seconds"] for r in results])
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    ax.plot(x, y, "o", color="#1f4e79", label="measured (ingest + score)")
    line = np.linspace(0, x.max() * 1.05, 50)
    ax.plot(line, a + b * line * 1e6, "-", color="#999999", lw=1, label=f"{a:.0f} s + {b * 1e6:.1f} s per million")
    ax.set_xlabel("households scored (millions)")
    ax.set_ylabel("seconds")
    ax.set_title(f"Incremental monthly run, {os.cpu_count()} cores (local mode)")
    ax.set_xlim(0, None)
    ax.set_ylim(0, None)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    print(f"plot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[250_000, 500_000, 1_000_000, 2_000_000])
    parser.add_argument("--month", default="2026-02")
    parser.add_argument("--plot", type=Path, default=Path("docs/img/bench_scale.png"))
    parser.add_argument("--reuse", action="store_true",
                        help="take a size's figures from <data-dir>/result-<size>.json when an earlier run left them")
    args = parser.parse_args()
    results = [measure(size, args.data_dir, args.month, args.reuse) for size in args.sizes]
    print(f"\n{'households':>12} {'ingest s':>9} {'score s':>9} {'total s':>9} {'households/s':>13} "
          f"{'peak RSS GiB':>13} {'peak heap GiB':>14}")
    for r in results:
        print(f"{r['households_next']:>12,} {r['ingest_seconds']:>9.1f} {r['score_seconds']:>9.1f} "
              f"{r['incremental_seconds']:>9.1f} {r['households_next'] / r['incremental_seconds']:>13,.0f} "
              f"{r['incremental_peak_rss_gib']:>13.2f} {r['incremental_peak_heap_gib']:>14.2f}")
    if len(results) < 2:
        return
    x = np.array([r["households_next"] for r in results], dtype=float)
    y = np.array([r["incremental_seconds"] for r in results])
    b, a = np.polyfit(x, y, 1)
    fitted = a + b * x
    r2 = 1 - ((y - fitted) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    print(f"\nleast squares: seconds = {a:.1f} + {b * 1e6:.1f} per million households (R² {r2:.4f})")
    print(f"extrapolated, not measured: {NATIONAL / 1e6:.1f} M households on {os.cpu_count()} cores "
          f"≈ {(a + b * NATIONAL) / 60:.0f} min; on {CLUSTER_CORES} cores, if the per-household part divided "
          f"by {CLUSTER_CORES // (os.cpu_count() or 1)} ≈ "
          f"{(a + b * NATIONAL * (os.cpu_count() or 1) / CLUSTER_CORES) / 60:.0f} min")
    plot(results, a, b, args.plot)


if __name__ == "__main__":
    main()
