"""Surface rows for the package-level names: the catalog and the warm-up (see tests/public_surface.py)."""

from __future__ import annotations

from public_surface import Row

ROWS = {
    "catalog": Row(valid=lambda: ((), {})),
    "build_catalog": Row(valid=lambda: ((), {})),
    # warm one small module from the (warm) cache; garbage in every argument is refused before any work
    "warm_kernels": Row(
        valid=lambda: ((), {"modules": ["engine.rng"], "progress": False, "jobs": 1}),
        refusals=(
            ("jobs 0", lambda e: e.warm_kernels(jobs=0, modules=["engine.rng"]), "jobs"),
            ("jobs a string", lambda e: e.warm_kernels(jobs="2", modules=["engine.rng"]), "jobs"),
            ("progress not bool", lambda e: e.warm_kernels(progress="yes", modules=["engine.rng"]), "progress"),
            ("unknown module", lambda e: e.warm_kernels(modules=["engine.nope"]), "modules"),
            ("modules a string", lambda e: e.warm_kernels(modules="engine.rng"), "modules"),
        ),
    ),
}
