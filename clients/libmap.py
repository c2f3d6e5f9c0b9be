"""``timbrecast-map``: a tagged sample library as one self-contained HTML page.

Every sample is a point in a 2-D projection of its seven descriptors (PCA of
the library itself, by SVD), coloured by a chosen descriptor. Hovering shows
its name and values, clicking plays it, sliders hide samples outside descriptor
ranges (``map.html#brightness=40-100&click=3`` opens with brightness 40-100 and
sample 3 playing). The page has no outside dependency (no CDN, no server): data, script and
style are inline, so it opens from a file on a machine without a network. Audio
is referenced by path (a ``file://`` URL; the page must stay on the machine
that has the samples) or, with ``--embed``, copied into the page.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import mimetypes
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from timbrecast.clients import _cli
from timbrecast.clients.match import Library, load_library
from timbrecast.daemon.protocol import DESCRIPTORS

PROG = "timbrecast-map"
#: Above this, ``--embed`` is refused: a page of hundreds of MB does not open.
EMBED_LIMIT_BYTES = 200 * 1024 * 1024

DESCRIPTION = """\
Draw a library tagged by `timbrecastd analyze --oneshot` (its --jsonl or --csv)
as one HTML page: each sample a point, placed by a principal-component
projection of the seven descriptors and coloured by one of them. Hover a point
for its name and values, click it to play it, narrow each descriptor's range
with the sliders. Open the page in any browser; nothing is fetched.
"""

EPILOG = f"""\
examples:
  timbrecastd analyze --oneshot ~/samples --jsonl library.jsonl
  timbrecast-map library.jsonl --out map.html
  timbrecast-map library.csv --out map.html --color warmth --embed

{_cli.STATUSES}
"""


@dataclass(frozen=True)
class Projection:
    """The library's samples in 2-D, and how much of the spread each axis holds."""

    xy: np.ndarray
    explained: tuple[float, float]


def project(values: np.ndarray) -> Projection:
    """PCA of (n, 7) descriptor values onto the first two components, each axis
    scaled to 0-1. A library of one sample (or of identical ones) sits in the middle."""
    centred = values - values.mean(axis=0)
    if not np.any(centred):
        return Projection(np.full((len(values), 2), 0.5), (0.0, 0.0))
    # Two or more samples of seven values: at least two components.
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    components = axes[:2]
    # A component's sign is arbitrary: point each where most of its weight is
    # positive, so the same library always draws the same way round.
    components *= np.where(components.sum(axis=1, keepdims=True) < 0, -1.0, 1.0)
    xy = centred @ components.T
    low, high = xy.min(axis=0), xy.max(axis=0)
    xy = (xy - low) / np.where(high > low, high - low, 1.0)
    power = singular**2
    explained = power[:2] / power.sum()
    return Projection(xy, (float(explained[0]), float(explained[1])))


def audio_source(path: str, embed: bool) -> str:
    """The ``src`` of a sample's audio: a data URL, or a file URL of its path (a
    relative path is taken from the current folder, as ``analyze`` wrote it)."""
    resolved = Path(path).resolve()
    if not embed:
        return resolved.as_uri()
    kind = mimetypes.guess_type(resolved.name)[0] or "application/octet-stream"
    try:
        content = resolved.read_bytes()
    except OSError as exc:
        raise _cli.BadConfig(f"--embed: cannot read {path} ({exc.strerror})") from exc
    return f"data:{kind};base64,{base64.b64encode(content).decode()}"


def page(library: Library, colour: str, title: str, embed: bool) -> str:
    """The whole HTML page."""
    values = np.array([sample.descriptors for sample in library.samples])
    projection = project(values)
    points = [
        {
            "name": Path(sample.path).name,
            "path": sample.path,
            "src": audio_source(sample.path, embed),
            "x": round(float(x), 5),
            "y": round(float(y), 5),
            "values": [round(v, 2) for v in sample.descriptors],
        }
        for sample, (x, y) in zip(library.samples, projection.xy, strict=True)
    ]
    data = {
        "descriptors": list(DESCRIPTORS),
        "colour": colour,
        "explained": [round(e, 3) for e in projection.explained],
        "points": points,
    }
    # "</" would end the script element early; JSON allows "<\/".
    payload = json.dumps(data).replace("</", "<\\/")
    return TEMPLATE.replace("{title}", html.escape(title)).replace("{data}", payload)


def build_parser() -> _cli.Parser:
    parser = _cli.Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument(
        "library", type=Path, help="`timbrecastd analyze --oneshot` output (.jsonl or .csv)"
    )
    parser.add_argument("--out", type=Path, required=True, help="the HTML page to write")
    parser.add_argument(
        "--color",
        choices=DESCRIPTORS,
        default="brightness",
        help="the descriptor that colours the points at first (default brightness; the page "
        "can change it)",
    )
    parser.add_argument(
        "--embed",
        action="store_true",
        help="copy the audio into the page, so it plays on another machine (larger page)",
    )
    parser.add_argument("--title", help="the page's title (default: the library's file name)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return _cli.run(PROG, lambda: draw(args))


def draw(args: argparse.Namespace) -> int:
    library = load_library(args.library)
    for line in library.skipped:
        print(f"{PROG}: skipped {line}", file=sys.stderr)
    missing = [s.path for s in library.samples if not Path(s.path).is_file()]
    if args.embed:
        if missing:
            raise _cli.BadConfig(f"--embed: {len(missing)} samples not found, first {missing[0]}")
        size = sum(Path(s.path).stat().st_size for s in library.samples)
        if size > EMBED_LIMIT_BYTES:
            raise _cli.BadConfig(
                f"--embed: the samples take {size / 2**20:.0f} MiB, more than a page can hold "
                f"({EMBED_LIMIT_BYTES // 2**20} MiB); leave --embed out to reference them"
            )
    text = page(library, args.color, args.title or args.library.name, args.embed)
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _cli.BadConfig(f"{args.out}: cannot write it ({exc.strerror})") from exc
    print(
        f"{PROG}: {len(library.samples)} samples drawn to {args.out}, "
        f"{len(library.skipped)} records skipped, {len(missing)} audio files not found",
        file=sys.stderr,
    )
    return _cli.OK


TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 0; display: flex; height: 100vh; }
#plot { flex: 1; }
#side { width: 300px; padding: 12px; overflow-y: auto; border-left: 1px solid #ccc; }
circle { stroke: #333; stroke-width: 0.5; cursor: pointer; }
circle.hidden { display: none; }
circle.selected { stroke: #000; stroke-width: 2.5; }
#tip { position: fixed; pointer-events: none; background: #fff; border: 1px solid #999;
       padding: 4px 6px; font-size: 12px; display: none; white-space: pre; }
label { display: block; margin-top: 6px; }
input[type=range] { width: 120px; }
</style>
</head>
<body>
<svg id="plot" viewBox="-0.05 -0.05 1.1 1.1" preserveAspectRatio="xMidYMid meet"></svg>
<div id="side">
  <h3>{title}</h3>
  <p id="count"></p>
  <label>colour by <select id="colour"></select></label>
  <div id="filters"></div>
  <p>selected: <span id="selected">none</span></p>
  <audio id="player" controls></audio>
  <p id="axes"></p>
</div>
<div id="tip"></div>
<script id="data" type="application/json">{data}</script>
<script>
"use strict";
const data = JSON.parse(document.getElementById("data").textContent);
const names = data.descriptors;
const svg = document.getElementById("plot");
const tip = document.getElementById("tip");
const player = document.getElementById("player");
const low = names.map(() => 0), high = names.map(() => 100);
let colour = names.indexOf(data.colour);

function hue(value) {  // blue (0) to red (100)
  return "hsl(" + (240 - 2.4 * Math.max(0, Math.min(100, value))) + ", 80%, 50%)";
}

// What the player is doing, on the element itself (a person sees the controls).
player.addEventListener("playing", () => { player.dataset.state = "playing"; });
player.addEventListener("error", () => { player.dataset.state = "cannot play"; });

function select(index) {
  const point = data.points[index];
  svg.querySelectorAll("circle.selected").forEach(c => c.classList.remove("selected"));
  svg.children[index].classList.add("selected");
  document.getElementById("selected").textContent = point.path;
  player.src = point.src;
  const playing = player.play();
  if (playing) playing.catch(() => {});  // a browser may refuse before a user gesture
}

data.points.forEach((point, index) => {
  const circle = document.createElementNS("http://www.w3.org/2000/svg", "circle");
  circle.setAttribute("cx", point.x);
  circle.setAttribute("cy", 1 - point.y);
  circle.setAttribute("r", 0.012);
  circle.dataset.index = index;
  circle.addEventListener("click", () => select(index));
  circle.addEventListener("mousemove", event => {
    tip.textContent = point.name + "\\n" +
      names.map((name, i) => name + " " + point.values[i].toFixed(1)).join("\\n");
    tip.style.left = (event.clientX + 12) + "px";
    tip.style.top = (event.clientY + 12) + "px";
    tip.style.display = "block";
  });
  circle.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  svg.appendChild(circle);
});

function redraw() {
  let shown = 0;
  data.points.forEach((point, index) => {
    const circle = svg.children[index];
    circle.setAttribute("fill", hue(point.values[colour]));
    const inside = point.values.every((v, i) => v >= low[i] && v <= high[i]);
    circle.classList.toggle("hidden", !inside);
    shown += inside;
  });
  document.getElementById("count").textContent =
    shown + " of " + data.points.length + " samples shown";
}

const chooser = document.getElementById("colour");
names.forEach((name, i) => chooser.add(new Option(name, i, false, i === colour)));
chooser.addEventListener("change", () => { colour = Number(chooser.value); redraw(); });

const filters = document.getElementById("filters");
names.forEach((name, i) => {
  const row = document.createElement("label");
  row.innerHTML = name + "<br>";
  ["min", "max"].forEach(end => {
    const range = document.createElement("input");
    range.type = "range"; range.min = 0; range.max = 100;
    range.value = end === "min" ? 0 : 100;
    range.id = name + "-" + end;
    range.addEventListener("input", () => {
      (end === "min" ? low : high)[i] = Number(range.value);
      redraw();
    });
    row.appendChild(range);
  });
  filters.appendChild(row);
});

// The address can open a view: #brightness=40-100&click=3 narrows brightness to
// 40-100 and clicks sample 3, as a person would (a view to share; tests use it).
const view = new URLSearchParams(location.hash.slice(1));
names.forEach((name, i) => {
  const range = /^(\\d+(?:\\.\\d+)?)-(\\d+(?:\\.\\d+)?)$/.exec(view.get(name) || "");
  if (!range) return;
  low[i] = Number(range[1]); high[i] = Number(range[2]);
  document.getElementById(name + "-min").value = low[i];
  document.getElementById(name + "-max").value = high[i];
});

document.getElementById("axes").textContent =
  "axes: the first two principal components of the seven descriptors (" +
  Math.round(100 * data.explained[0]) + "% and " + Math.round(100 * data.explained[1]) +
  "% of their spread)";
redraw();
const clicked = Number(view.get("click"));
if (view.has("click") && svg.children[clicked]) {
  svg.children[clicked].dispatchEvent(new MouseEvent("click"));
}
</script>
</body>
</html>
"""


if __name__ == "__main__":
    sys.exit(main())
