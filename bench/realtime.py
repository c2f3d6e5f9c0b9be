"""CPU per channel at 48 kHz, channels per core, and the daemon's memory.

The bundled demo, resampled to 48 kHz and repeated, is fed as raw f32le PCM on
stdin to ``timbrecastd run --stdin`` as fast as the daemon takes it, with 1, 2,
4 and 8 channels (each channel the demo shifted in time, so the channels'
hits differ). The daemon's CPU time (user + system, from ``wait4``) divided by
the audio's duration and the channel count is its real-time factor per
channel; one core sustains 1 / that many channels. Peak resident memory comes
from the same ``wait4``; the daemon's memory maps are read mid-run to confirm
that no TensorFlow library is loaded. Ratios are against the 1-channel run.

    python bench/realtime.py --repeat 6 --channels 1 2 4 8
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import soxr

from timbrecast.daemon import audiofile, bundled
from timbrecast.daemon.preprocess import to_mono

RATE = 48_000


def free_endpoint() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


def stream(channels: int, repeat: int) -> np.ndarray:
    demo = audiofile.read(bundled.demo_recordings()[0])
    mono = soxr.resample(to_mono(demo.frames), demo.sample_rate, RATE).astype(np.float32)
    long = np.tile(mono, repeat)
    shifts = [round(0.037 * c * RATE) for c in range(channels)]
    return np.stack([np.roll(long, s) for s in shifts], axis=1)


def one_run(channels: int, repeat: int) -> dict[str, float]:
    audio = stream(channels, repeat)
    daemon = subprocess.Popen(
        [str(Path(sys.executable).parent / "timbrecastd"), "run", "--stdin", "--rate",
         str(RATE), "--channels", str(channels), "--format", "f32le", "--endpoint",
         free_endpoint()],
        stdin=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    maps: list[str] = []

    def read_maps() -> None:
        maps.append(Path(f"/proc/{daemon.pid}/maps").read_text())

    timer = threading.Timer(2.0, read_maps)
    timer.start()
    assert daemon.stdin is not None
    daemon.stdin.write(audio.astype("<f4").tobytes())
    daemon.stdin.close()
    _, status, usage = os.wait4(daemon.pid, 0)
    daemon.returncode = os.waitstatus_to_exitcode(status)
    timer.cancel()
    seconds = audio.shape[0] / RATE
    return {
        "audio_s": seconds,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rss_mib": usage.ru_maxrss / 1024,
        "tensorflow": any("tensorflow" in m for m in maps),
        "status": daemon.returncode,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python bench/realtime.py --repeat 6 --channels 1 2 4 8",
    )
    parser.add_argument("--repeat", type=int, default=6, help="demo repeats (11.1 s each)")
    parser.add_argument("--channels", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--out", help="also write the Markdown table here")
    args = parser.parse_args()

    rows = {c: one_run(c, args.repeat) for c in args.channels}
    reference = rows[args.channels[0]]
    per_channel_ref = reference["cpu_s"] / reference["audio_s"] / args.channels[0]
    lines = [
        f"{reference['audio_s']:.0f} s of audio per channel at {RATE} Hz, fed as fast as "
        "the daemon reads it; CPU of the daemon process (all its threads)",
        "",
        "| channels | CPU s | CPU s per audio s per channel | x reference | channels per core "
        "| peak RSS MiB | TensorFlow loaded |",
        "|---|---|---|---|---|---|---|",
    ]
    for channels, row in rows.items():
        assert row["status"] == 0, f"the daemon failed with {channels} channels"
        per_channel = row["cpu_s"] / row["audio_s"] / channels
        lines.append(
            f"| {channels} | {row['cpu_s']:.1f} | {per_channel:.4f} | "
            f"{per_channel / per_channel_ref:.2f} | {1 / per_channel:.0f} | "
            f"{row['rss_mib']:.0f} | {'yes' if row['tensorflow'] else 'no'} |"
        )
    table = "\n".join(lines)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
