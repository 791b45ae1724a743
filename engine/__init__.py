"""descentlab's engine: Numba-compiled numbers behind every picture of how networks learn.

Usable without Flask. The public names of every concept module in ``engine.concepts`` (its
``__all__``) are re-exported here::

    import engine
    engine.evaluate_loss("mse", [0.7, 0.2, 0.1], [1, 0, 0]).value
"""

import importlib as _importlib

from .catalog import build_catalog
from .concepts import MODULES as _MODULES
from .errors import EngineInputError
from .limits import LIMITS
from .warmup import warm_kernels

__all__ = ["EngineInputError", "LIMITS", "build_catalog", "warm_kernels"]
for _name in _MODULES:
    _module = _importlib.import_module(_name)
    for _public in getattr(_module, "__all__", ()):
        globals()[_public] = getattr(_module, _public)
        __all__.append(_public)
del _name, _module, _public
