"""A Dask worker preload (``--preload``) that makes the worker one without timbrecast
installed: any import of it fails, as on a machine where it was never installed."""

import sys


class _Absent:
    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "timbrecast" or name.startswith("timbrecast."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


sys.meta_path.insert(0, _Absent())
for loaded in [name for name in sys.modules if name.startswith("timbrecast")]:
    del sys.modules[loaded]
