"""The exceptions the engine raises: bad user input, and a caller's deadline passing."""


class EngineInputError(ValueError):
    """Input the engine refuses: an unknown name, a bad shape, a value out of range, a work limit.

    ``field`` names the offending argument (dotted for nested ones), so the service can
    report it against the request field of the same name.
    """

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class DeadlineExceeded(RuntimeError):
    """A computation stopped because the deadline its caller set (``engine.deadline``) passed.

    Not the input's fault: the same request may finish on a quieter machine. ``what`` names the
    computation that stopped (``basins``, ``training epochs``, ...).
    """

    def __init__(self, what: str):
        super().__init__(f"{what}: stopped at the deadline before finishing")
        self.what = what
