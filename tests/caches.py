"""A cache that does not answer, for the code that must go on without one."""


class DownCache:
    """Every method raises ConnectionError, as a Redis cache that is down does."""

    def __getattr__(self, name):
        def refuse(*args, **kwargs):
            raise ConnectionError("cache down")

        return refuse
