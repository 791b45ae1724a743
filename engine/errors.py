"""The exceptions the engine raises: bad user input (and how a caller re-roots its field), and a
caller's deadline passing (``DeadlineExceeded``, raised by ``engine.deadlines``).

A function validates its own arguments under its own names (``resolve_optimizer`` says
``optimizer.lr``); a caller that received the spec under another name (a race's
``optimizers.2``, a training run's ``model``) re-roots the error instead of rewriting it by hand::

    with field_prefix("optimizers.2", strip="optimizer"):
        opt = resolve_optimizer(spec)          # refusal: optimizers.2.lr, not optimizer.lr
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


class EngineInputError(ValueError):
    """Input the engine refuses: an unknown name, a bad shape, a value out of range, a work limit.

    ``field`` names the offending argument (dotted for nested ones), so the service can
    report it against the request field of the same name.
    """

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def rerooted(self, prefix: str, strip: str | None = None) -> "EngineInputError":
        """The same refusal with its field under ``prefix``.

        ``strip`` is the root the callee used for the same object: ``optimizer.lr`` re-rooted at
        ``optimizers.2`` with ``strip="optimizer"`` is ``optimizers.2.lr`` (at ``""``: ``lr``, the top
        level). A field that already starts with ``prefix`` is kept; any other is put under ``prefix``.
        """
        f = self.field
        if strip is not None and (f == strip or f.startswith(strip + ".")):
            rest = f[len(strip):]
            f = prefix + rest if prefix else (rest[1:] or strip)
        elif prefix and not (f == prefix or f.startswith(prefix + ".")):
            f = f"{prefix}.{f}"
        return EngineInputError(f, self.message)


@contextmanager
def field_prefix(prefix: str, strip: str | None = None, only: tuple[str, ...] | None = None) -> Iterator[None]:
    """Re-root every ``EngineInputError`` raised inside the block (see ``EngineInputError.rerooted``).

    ``only``: re-root just the fields under these roots (others pass unchanged), e.g. a comparison
    puts ``regularization.*`` refusals under ``variants.3`` and leaves the shared fields alone.
    """
    try:
        yield
    except EngineInputError as err:
        if only is not None and not any(err.field == r or err.field.startswith(r + ".") for r in only):
            raise
        raise err.rerooted(prefix, strip) from None


class DeadlineExceeded(RuntimeError):
    """A computation stopped because the deadline its caller set (``engine.deadline``) passed.

    Not the input's fault: the same request may finish on a quieter machine. ``what`` names the
    computation that stopped (``basins``, ``training epochs``, ...).
    """

    def __init__(self, what: str):
        super().__init__(f"{what}: stopped at the deadline before finishing")
        self.what = what
