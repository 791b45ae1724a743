"""The one exception the engine raises for bad user input."""


class EngineInputError(ValueError):
    """Input the engine refuses: an unknown name, a bad shape, a value out of range, a work limit.

    ``field`` names the offending argument (dotted for nested ones), so the service can
    report it against the request field of the same name.
    """

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
