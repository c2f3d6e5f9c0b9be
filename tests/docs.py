"""The shell blocks of the documentation, read as a test runs them.

Every fenced ``sh`` block of README.md, docs/*.md and examples/README.md is a
test. The HTML comment right above a block (invisible on the rendered page) may
say how it is run; without one it runs as written:

    <!-- doc-test: run -->          the block as one bash script; it must exit 0
    <!-- doc-test: start -->        each line a long-running command (a daemon, a
                                    bridge): all must be up after a few seconds and
                                    stop on SIGTERM
    <!-- doc-test: skip REASON -->  not run here; the reason says why and what
                                    covers it instead

and, on the comment's following lines, ``replace: OLD => NEW`` substitutes a
small input where the page shows a real one (a device, a day of training).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "examples" / "README.md"]
MODES = ("run", "start", "skip")

_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
_DIRECTIVE = re.compile(r"<!-- doc-test: (\w+)((?:(?!-->).)*)-->\s*\Z", re.S)


@dataclass(frozen=True)
class Block:
    """One ``sh`` block: where it is, how it is run, and the script that results."""

    page: Path
    line: int
    mode: str
    reason: str
    script: str

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"

    def commands(self) -> list[str]:
        """The script's commands, one per line, comments and blank lines left out
        (a trailing backslash joins a line to the next)."""
        joined = re.sub(r"\\\n\s*", " ", self.script)
        lines = (line.split(" #")[0].strip() for line in joined.splitlines())
        return [line for line in lines if line and not line.startswith("#")]


def blocks(page: Path) -> list[Block]:
    text = page.read_text()
    found = []
    for match in _BLOCK.finditer(text):
        before = text[: match.start()]
        line = before.count("\n") + 1
        directive = _DIRECTIVE.search(before)
        mode, reason, script = "run", "", match.group(1)
        if directive is not None:
            mode = directive.group(1)
            if mode not in MODES:
                raise ValueError(f"{page}:{line}: unknown doc-test mode {mode!r}")
            rest = directive.group(2).strip().splitlines()
            reason = rest[0].strip() if rest and not rest[0].strip().startswith("replace:") else ""
            for entry in rest:
                entry = entry.strip()
                if entry.startswith("replace:"):
                    old, arrow, new = entry[len("replace:") :].partition("=>")
                    if not arrow or old.strip() not in script:
                        raise ValueError(f"{page}:{line}: replace {old.strip()!r} not in the block")
                    script = script.replace(old.strip(), new.strip())
        found.append(Block(page, line, mode, reason, script))
    return found


def all_blocks() -> list[Block]:
    return [block for page in PAGES for block in blocks(page)]
