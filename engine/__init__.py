"""descentlab's engine: Numba-compiled numbers behind every picture of how networks learn.

Usable without Flask. Public names are re-exported here, one block per concept module::

    import engine
    engine.evaluate_loss("mse", [0.7, 0.2, 0.1], [1, 0, 0]).value
"""

from .errors import EngineInputError
from .limits import LIMITS
from .catalog import catalog
from .warmup import warmup

__all__ = ["EngineInputError", "LIMITS", "catalog", "warmup"]
