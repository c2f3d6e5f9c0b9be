"""How long ``timbrecast-match`` takes to choose a sample, as the library grows.

Why: issue 18 asks what a lookup costs in a 100,000-sample library; a drummer's
hit must not wait on it. The library is made from real tags: the 40 parity
one-shots' descriptors (``tests/fixtures/teacher-parity``, tagged by the bundled
model) each copied with small random offsets, so that it clusters as a real one
does (kicks near kicks) rather than filling the space evenly. Queries are other
such offsets. Beside the k-d tree (``clients/match.Matcher``), a brute-force numpy
search over the same points is the reference: the ratio says what the tree buys.
Times are per query, one at a time as hits come, median of ``--rounds`` rounds.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import scipy.spatial  # noqa: F401  (imported here, so the first build time is the build's)

from timbrecast.clients.match import Library, Matcher, Sample, Space
from timbrecast.daemon import audiofile
from timbrecast.daemon.analysis import load_model, oneshot_hit
from timbrecast.daemon.protocol import DESCRIPTORS

PARITY = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "teacher-parity"


def tags() -> np.ndarray:
    """The parity clips' descriptors by the bundled model: (40, 7)."""
    model = load_model(None, None, 1)
    rows = []
    for path in sorted(PARITY.glob("*.wav")):
        clip = audiofile.read(path)
        hit = oneshot_hit(clip.frames, clip.sample_rate, model, path.stem)
        rows.append([hit.descriptors[name] for name in DESCRIPTORS])
    return np.asarray(rows)


def spread(base: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    picks = base[rng.integers(0, len(base), size)]
    return np.clip(picks + rng.normal(0.0, 6.0, picks.shape), 0.0, 100.0)


def per_query_us(search, queries: list[dict[str, float]], rounds: int) -> float:
    medians = []
    for _ in range(rounds):
        times = []
        for query in queries:
            started = time.perf_counter()
            search(query)
            times.append(time.perf_counter() - started)
        medians.append(statistics.median(times))
    return statistics.median(medians) * 1e6


def row(size: int, base: np.ndarray, queries: list[dict[str, float]], args, rng) -> str:
    """One library size: build time, the tree at k=1 and k, brute force, the ratio."""
    space = Space()
    values = spread(base, size, rng)
    library = Library([Sample(f"s{i}.wav", tuple(v), -20.0) for i, v in enumerate(values)], [])
    started = time.perf_counter()
    matcher = Matcher(library, space)
    build_ms = (time.perf_counter() - started) * 1e3
    points = values / 100.0

    def brute(query: dict[str, float]) -> int:
        offset = points - space.point(query, -20.0)
        return int(np.argmin(np.einsum("ij,ij->i", offset, offset)))

    one = per_query_us(lambda q: matcher.nearest(q, -20.0, 1), queries, args.rounds)
    several = per_query_us(lambda q: matcher.nearest(q, -20.0, args.k), queries, args.rounds)
    reference = per_query_us(brute, queries, args.rounds)
    return (
        f"| {size:,} | {build_ms:.0f} | {one:.0f} | {several:.0f} | {reference:.0f} "
        f"| {reference / one:.1f}x |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000], help="library sizes"
    )
    parser.add_argument("--queries", type=int, default=2000, help="queries per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("-k", type=int, default=4, help="k of the second tree row (default 4)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    base = tags()
    queries = [dict(zip(DESCRIPTORS, v, strict=True)) for v in spread(base, args.queries, rng)]
    print(
        f"| library | build ms | tree, k=1, us | tree, k={args.k}, us | brute force, us "
        "| brute / tree |"
    )
    print("|---|---|---|---|---|---|")
    for size in args.sizes:
        print(row(size, base, queries, args, rng))


if __name__ == "__main__":
    main()
