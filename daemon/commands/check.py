"""``timbrecastd check``: resolve settings as ``run`` would and test each part."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from timbrecast.daemon import config, exitcodes, runtime, selftest
from timbrecast.daemon.analysis import load_model
from timbrecast.daemon.commands.flags import (
    add_run_flags,
    load_early,
    run_settings,
)
from timbrecast.daemon.config import ConfigError, Settings
from timbrecast.daemon.contract import ModelContractError
from timbrecast.daemon.live import DeviceMissing, LiveInputError, find_device
from timbrecast.daemon.onset import OnsetDetector
from timbrecast.daemon.publisher import (
    Publisher,
    PublisherError,
)
from timbrecast.daemon.security import Curve


def cmd_check(args: argparse.Namespace) -> int:
    """Validate configuration, model, device and endpoint; say what is wrong.

    Exits as ``run`` would: 69 if something needed is missing (an extra, a runtime,
    the device), else 78 for any configuration problem.
    """
    statuses: list[int] = []

    def report(what: str, check: Callable[[], str]) -> None:
        try:
            print(f"ok       {what}: {check()}")
        except (DeviceMissing, runtime.RuntimeUnavailable, ImportError) as exc:
            statuses.append(exitcodes.UNAVAILABLE)
            print(f"MISSING  {what}: {exc}")
        except (ConfigError, ModelContractError, LiveInputError, PublisherError) as exc:
            statuses.append(exitcodes.CONFIG)
            print(f"PROBLEM  {what}: {exc}")

    settings = run_settings(args)
    where = args.config or (config.DEFAULT_PATH if config.DEFAULT_PATH.is_file() else None)
    print(f"ok       configuration: {where or 'defaults (no file)'}")
    report("model", lambda: describe_model(settings))
    report("early model", lambda: describe_early_model(settings))
    report("onset detection", lambda: describe_detector(settings))
    if not args.file and not args.stdin:
        report("device", lambda: describe_device(settings))
    report("endpoint", lambda: describe_endpoint(settings))
    if exitcodes.CONFIG in statuses:
        return exitcodes.CONFIG
    return exitcodes.UNAVAILABLE if statuses else exitcodes.OK


def describe_model(settings: Settings) -> str:
    model = load_model(settings.model, settings.runtime, settings.threads)
    return (
        f"{model.model_id} ({model.path}) on {model.runtime.name}; "
        f"{selftest.described(model.verdict)}"
    )


def describe_early_model(settings: Settings) -> str:
    models = load_early(settings.early_model, settings.runtime, settings.threads)
    if not models:
        return "none (no provisional timbre messages)"
    return "; ".join(
        f"{model.model_id} ({model.path}), {model.contract.early_ms:g} ms after each attack, "
        f"{selftest.described(model.verdict)}"
        for model in sorted(models, key=lambda m: m.contract.early_ms or 0.0)
    )


def describe_detector(settings: Settings) -> str:
    """The method, and for the learned one its model, loaded as a channel would."""
    if settings.method != "learned":
        return f"{settings.method} (threshold {settings.threshold})"
    detector = OnsetDetector(48_000, settings.detector)
    return (
        f"learned, {detector.model_id} (activation {settings.activation}), "
        f"min interval {settings.min_interval} s; {selftest.described(detector.verdict)}"
    )


def describe_device(settings: Settings) -> str:
    device = find_device(settings.device or None)
    wanted = max(settings.channels)
    if wanted > device.channels:
        raise ConfigError(
            f"{device.name!r} has {device.channels} inputs; [input] channels asks for {wanted}"
        )
    return f"{device.index}: {device.name} ({device.channels} in, {device.default_rate} Hz)"


def describe_endpoint(settings: Settings) -> str:
    curve = Curve(Path(settings.secret_key), Path(settings.clients)) if settings.curve else None
    publisher = Publisher(settings.endpoint, settings.hwm, connect=settings.connect, curve=curve)
    publisher.close()
    return f"{settings.endpoint} {'reachable' if settings.connect else 'free'}" + (
        ", CURVE keys readable" if curve else ""
    )


def add_parser(commands: argparse._SubParsersAction) -> None:
    check = commands.add_parser(
        "check",
        help="validate configuration, model, device and endpoint, and say what is wrong",
        description="Resolve the settings as `run` would (file, then flags), then load the "
        "model, find the device and try the endpoint, one line per check. Exit 78 if "
        "anything is wrong.",
        epilog="example: timbrecastd check --config /etc/timbrecast/timbrecast.toml",
    )
    add_run_flags(check)
    check.set_defaults(func=cmd_check)
