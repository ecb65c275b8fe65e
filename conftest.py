"""Shared test set-up: the smoke profile, the shared data copy, no network.

MPLBACKEND stays unset: notebook kernels inherit the environment, and with Agg forced
ipykernel would store no figures."""

import os
from pathlib import Path

_shared = Path(__file__).resolve().parent.parent / "shared" / "data" / "isbi2012"
if not os.environ.get("ATTNLIB_DATA") and _shared.is_dir():
    os.environ["ATTNLIB_DATA"] = str(_shared)  # CI and tests read the shared copy
os.environ.setdefault("ATTNLIB_PROFILE", "smoke")  # notebook kernels inherit this (nbval)
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
