"""Compare two runs of `make test-arm64`'s commands: the same hits, the same descriptors.

usage: python .ci/compare_runs.py OUT_DIR REFERENCE OTHER

Reads OUT_DIR/{label}-demo.txt, -groove.jsonl and -oneshot.jsonl of both labels.
Hits must be the same (count, source, onset time to the sample); descriptors
may differ by int8 rounding: one step of the model's int8 output is a span of at
most 100 points over 256 values, so TOLERANCE allows a step and the demo's
one-decimal print. Prints one line per difference; exits 1 if there is any.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

TOLERANCE = 0.5
DEMO_LINE = re.compile(r"^(onset|early|timbre)\s+(\S+)\s+#(\d+)(.*)$")
HEARD = re.compile(r", (\d+) ms of the hit\)")
ONSET_REST = re.compile(r"at\s+(\d+\.\d{3}) s\s+peak\s+(-?\d+\.\d) dBFS")
DESCRIPTOR = re.compile(r"\b([a-z]{5})\s+(-?\d+\.\d)(?!\d)")


def demo_events(path: Path) -> dict[tuple[str, str, int], tuple[str, list[float]]]:
    """(kind, source, seq) -> what to compare: an onset's time (exact, to the ms) and
    peak, or a timbre line's seven descriptors. An early line's kind names how much
    of the hit its model heard ("early 10 ms"): with two early models a hit has two."""
    events = {}
    for line in path.read_text().splitlines():
        match = DEMO_LINE.match(line)
        if not match:
            continue
        kind, source, seq, rest = match.groups()
        if kind == "early" and (heard := HEARD.search(rest)):
            kind = f"early {heard.group(1)} ms"
        if kind == "onset":
            onset = ONSET_REST.search(rest)
            key, values = (onset.group(1), [float(onset.group(2))]) if onset else (rest, [])
        else:
            key, values = "", [float(v) for _, v in DESCRIPTOR.findall(rest)]
        events[(kind, source, int(seq))] = (key, values)
    return events


def hits(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def compare_hits(name: str, ours: list[dict], theirs: list[dict]) -> list[str]:
    problems = []
    if len(ours) != len(theirs):
        return [f"{name}: {len(theirs)} hits, reference {len(ours)}"]
    for a, b in zip(ours, theirs, strict=True):
        where = f"{name} {Path(a['file']).name} #{a.get('seq', 0)}"
        if Path(a["file"]).name != Path(b["file"]).name:
            problems.append(f"{where}: file {Path(b['file']).name} in its place")
            continue
        if (a.get("source"), a.get("onset_s")) != (b.get("source"), b.get("onset_s")):
            problems.append(f"{where}: hit at {b.get('onset_s')}, reference {a.get('onset_s')}")
        for descriptor, value in a["descriptors"].items():
            other = b["descriptors"].get(descriptor)
            if other is None or abs(value - other) > TOLERANCE:
                problems.append(f"{where} {descriptor}: {other}, reference {value}")
    return problems


def compare(out: Path, reference: str, other: str) -> list[str]:
    problems = []
    ours, theirs = (
        demo_events(out / f"{reference}-demo.txt"),
        demo_events(out / f"{other}-demo.txt"),
    )
    if not ours:
        problems.append(f"{reference}-demo.txt: no events")
    if ours.keys() != theirs.keys():
        problems.append(f"demo: events {sorted(ours.keys() ^ theirs.keys())[:5]} differ")
    for key in ours.keys() & theirs.keys():
        (exact, values), (other_exact, others) = ours[key], theirs[key]
        if (
            exact != other_exact
            or len(values) != len(others)
            or any(abs(x - y) > TOLERANCE + 0.1 for x, y in zip(values, others, strict=True))
        ):
            problems.append(f"demo {key}: {theirs[key]}, reference {ours[key]}")
    for name in ("groove", "oneshot"):
        ours_hits = hits(out / f"{reference}-{name}.jsonl")
        if not ours_hits:
            problems.append(f"{reference}-{name}.jsonl: no hits")
        problems += compare_hits(name, ours_hits, hits(out / f"{other}-{name}.jsonl"))
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 64
    problems = compare(Path(argv[0]), argv[1], argv[2])
    for problem in problems[:20]:
        print(f"    {problem}", file=sys.stderr)
    if len(problems) > 20:
        print(f"    ... and {len(problems) - 20} more", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
