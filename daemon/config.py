"""The daemon's settings: a TOML file (``systemd/timbrecast.toml`` documents every
key), overridden by command-line flags.

One typed ``Settings`` holds the result. Each field names its TOML table, the
check its value must pass, and whether ``SIGHUP`` may change it while running
(only detection settings: anything else would reopen the device, the model or the
socket, which is a restart). A bad file is a ``ConfigError`` naming the key; the
command line turns it into exit status 78.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

from timbrecast.daemon import runtime
from timbrecast.daemon.onset import DETECTOR_LIMITS, METHODS, DetectorSettings
from timbrecast.daemon.protocol import DEFAULT_ENDPOINT

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

DEFAULT_PATH = Path("/etc/timbrecast/timbrecast.toml")


class ConfigError(ValueError):
    """A setting the daemon cannot use; the message names the key and the problem."""


Check = Callable[[Any], str | None]


def _between(low: float, high: float) -> Check:
    return lambda v: None if low <= v <= high else f"{v} is outside {low}..{high}"


def _positive_channels(v: tuple[int, ...]) -> str | None:
    return None if v and min(v) >= 1 else "channels count from 1"


#: Source names go into ZeroMQ topics (``kind/source``) and OSC addresses: short,
#: printable, no slash.
SOURCE_NAME_MAX = 64


def _source_names(names: tuple[str, ...]) -> str | None:
    for name in names:
        if not name or len(name) > SOURCE_NAME_MAX:
            return f"source name {name!r} must have 1 to {SOURCE_NAME_MAX} characters"
        if "/" in name or not name.isprintable() or name != name.strip():
            return f"source name {name!r}: no '/', no spaces at its ends, no control characters"
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        return f"source names must differ; {', '.join(duplicates)} is given twice"
    return None


def source_names(
    channels: int, given: Sequence[str] | None, single: str | None = None
) -> list[str]:
    """The sources of an input with ``channels`` channels: the names ``given``, else
    ``in1``, ``in2``, ...; a single channel is named ``single`` when there is one
    (``analyze`` names a mono file's source after the file)."""
    if given:
        if len(given) != channels:
            raise ConfigError(f"{len(given)} source names for {channels} channels")
        return list(given)
    if channels == 1 and single:
        return [single]
    return [f"in{i + 1}" for i in range(channels)]


def _one_of(*choices: str) -> Check:
    return lambda v: None if v in choices else f"{v!r} is not one of {', '.join(choices)}"


def _in(table: str, check: Check | None = None, reload: bool = False) -> dict[str, Any]:
    return {"table": table, "check": check, "reload": reload}


_DETECTOR = DetectorSettings()


def _detection(name: str) -> dict[str, Any]:
    """A detector setting: its range is the detector's own, and SIGHUP reloads it."""
    return _in("detection", _between(*DETECTOR_LIMITS[name]), reload=True)


@dataclass(frozen=True)
class Settings:
    """Everything ``timbrecastd run`` needs; see ``systemd/timbrecast.toml``."""

    device: str = field(default="", metadata=_in("input"))
    channels: tuple[int, ...] = field(default=(1,), metadata=_in("input", _positive_channels))
    rate: int = field(default=0, metadata=_in("input", _between(0, 384_000)))
    sources: tuple[str, ...] = field(default=(), metadata=_in("input", _source_names))
    block: int = field(default=128, metadata=_in("input", _between(16, 8192)))
    threshold: float = field(default=_DETECTOR.threshold, metadata=_detection("threshold"))
    floor_db: float = field(default=_DETECTOR.floor_db, metadata=_detection("floor_db"))
    min_interval: float = field(default=_DETECTOR.min_interval, metadata=_detection("min_interval"))
    method: str = field(default=_DETECTOR.method, metadata=_in("detection", _one_of(*METHODS)))
    activation: float = field(default=_DETECTOR.activation, metadata=_detection("activation"))
    full_second: bool = field(default=False, metadata=_in("detection"))
    model: str = field(default="", metadata=_in("model"))
    early_model: str = field(default="", metadata=_in("model"))
    runtime: str = field(default="", metadata=_in("model", _one_of("", *runtime.NAMES)))
    threads: int = field(default=1, metadata=_in("model", _between(1, 64)))
    endpoint: str = field(default=DEFAULT_ENDPOINT, metadata=_in("publish"))
    connect: bool = field(default=False, metadata=_in("publish"))
    hwm: int = field(default=1000, metadata=_in("publish", _between(1, 10_000_000)))
    allow_network: bool = field(default=False, metadata=_in("publish"))
    curve: bool = field(default=False, metadata=_in("security"))
    secret_key: str = field(
        default="/etc/timbrecast/keys/server.key_secret", metadata=_in("security")
    )
    clients: str = field(default="/etc/timbrecast/keys/clients", metadata=_in("security"))

    @property
    def detector(self) -> DetectorSettings:
        return DetectorSettings(
            threshold=self.threshold,
            floor_db=self.floor_db,
            min_interval=self.min_interval,
            activation=self.activation,
            method=self.method,
        )

    def needs_restart(self, other: Settings) -> list[str]:
        """``[table] key`` of each changed setting that ``SIGHUP`` cannot apply."""
        return [
            _name(f)
            for f in fields(self)
            if not f.metadata["reload"] and getattr(self, f.name) != getattr(other, f.name)
        ]


def _name(f: Any) -> str:
    return f"[{f.metadata['table']}] {f.name}"


_HINTS = get_type_hints(Settings)
_WIRE: dict[Any, tuple[type, ...]] = {
    bool: (bool,),
    int: (int,),
    float: (float, int),
    str: (str,),
    tuple[int, ...]: (list, tuple),
    tuple[str, ...]: (list, tuple),
}
_ITEMS: dict[Any, type] = {tuple[int, ...]: int, tuple[str, ...]: str}
_TYPE_NAMES: dict[Any, str] = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
    tuple[int, ...]: "a list of integers",
    tuple[str, ...]: "a list of strings",
}


def _checked(f: Any, value: Any, where: str) -> Any:
    hint = _HINTS[f.name]
    wrong = not isinstance(value, _WIRE[hint]) or (isinstance(value, bool) and hint is not bool)
    if not wrong and hint in _ITEMS:
        item = _ITEMS[hint]
        wrong = any(not isinstance(v, item) or isinstance(v, bool) for v in value)
    if wrong:
        raise ConfigError(
            f"{where}{_name(f)}: expected {_TYPE_NAMES[hint]}, got {type(value).__name__} {value!r}"
        )
    if hint is float:
        value = float(value)
    elif hint in _ITEMS:
        value = tuple(value)
    check = f.metadata["check"]
    problem = check(value) if check else None
    if problem:
        raise ConfigError(f"{where}{_name(f)}: {problem}")
    return value


def parse(document: Mapping[str, Any], where: str = "") -> dict[str, Any]:
    """Checked values by field name from a TOML document; unknown keys are errors."""
    by_table: dict[str, dict[str, Any]] = {}
    for f in fields(Settings):
        by_table.setdefault(f.metadata["table"], {})[f.name] = f
    values = {}
    for table, keys in document.items():
        if table not in by_table:
            raise ConfigError(f"{where}unknown table [{table}] (known: {', '.join(by_table)})")
        if not isinstance(keys, Mapping):
            raise ConfigError(f"{where}[{table}] must be a table")
        for key, value in keys.items():
            if key not in by_table[table]:
                known = ", ".join(by_table[table])
                raise ConfigError(f"{where}unknown key [{table}] {key} (known: {known})")
            values[key] = _checked(by_table[table][key], value, where)
    return values


def read(path: Path) -> dict[str, Any]:
    """The checked values of a TOML file."""
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such configuration file") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text, as TOML must be ({exc.reason})") from exc
    return parse(document, f"{path}: ")


def resolve(path: Path | None, overrides: Mapping[str, Any]) -> Settings:
    """Defaults, then the file (if any), then the command line's flags (``None``: unset).

    With no ``path`` the default file is read when it exists, so a plain
    ``timbrecastd run`` on a configured box behaves like the service.
    """
    values: dict[str, Any] = {}
    if path is not None:
        values = read(path)
    elif DEFAULT_PATH.is_file():
        values = read(DEFAULT_PATH)
    flags = {f.name: f for f in fields(Settings)}
    for name, value in overrides.items():
        if value is not None:
            values[name] = _checked(flags[name], value, "command line: ")
    settings = replace(Settings(), **values)
    check_endpoint(settings)
    return settings


def is_loopback(endpoint: str) -> bool:
    """Whether an endpoint stays on this machine (``ipc://``, ``inproc://``, loopback TCP)."""
    parts = urlsplit(endpoint)
    if parts.scheme in ("ipc", "inproc"):
        return True
    host = (parts.hostname or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(settings: Settings) -> None:
    """A TCP endpoint names a usable port (ZeroMQ would bind a random one for a port
    it cannot parse); publishing beyond this machine must be asked for."""
    parts = urlsplit(settings.endpoint)
    if parts.scheme == "tcp":
        port = parts.netloc.rpartition(":")[2]
        if port != "*" and not (port.isdigit() and 1 <= int(port) <= 65535):
            raise ConfigError(
                f"[publish] endpoint {settings.endpoint}: the port must be 1-65535 or *"
            )
    if not is_loopback(settings.endpoint) and not settings.allow_network:
        raise ConfigError(
            f"[publish] endpoint {settings.endpoint} is not loopback: set "
            "[publish] allow_network = true (or --allow-network) to publish to the network"
        )
