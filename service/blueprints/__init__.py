"""One blueprint per topic; each module defines ``blp``, listed in ``service.app.MODULES``."""
