"""Library-wide settings.

Each setting has a default, can be overridden by an environment variable
(``BLOCKS_<NAME>``) read when :mod:`blocks` is first imported, and can be set in code::

    >>> from blocks.config import config
    >>> config.default_seed
    1
    >>> config.default_seed = 2
    >>> config.default_seed
    2
    >>> config.default_seed = 1

``floatX`` is not a Blocks setting: it belongs to PyTensor (``pytensor.config.floatX``).
"""

import os

__all__ = ["Config", "config", "flag"]


class Config:
    """A namespace of typed settings with environment-variable overrides."""

    def __init__(self):
        object.__setattr__(self, "_settings", {})
        object.__setattr__(self, "_values", {})

    def add_setting(self, name, type_, default, doc=""):
        """Declare a setting; ``BLOCKS_<NAME>`` in the environment overrides `default`."""
        self._settings[name] = (type_, doc)
        env_name = "BLOCKS_" + name.upper()
        if env_name in os.environ:
            try:
                value = type_(os.environ[env_name])
            except ValueError as error:
                raise ValueError(
                    f"environment variable {env_name}={os.environ[env_name]!r} is not a valid "
                    f"{type_.__name__} for blocks.config.{name}"
                ) from error
        else:
            value = default
        self._values[name] = value

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"blocks.config has no setting {name!r}") from None

    def __setattr__(self, name, value):
        if name not in self._settings:
            raise AttributeError(
                f"blocks.config has no setting {name!r}; known settings: "
                f"{', '.join(sorted(self._settings))}"
            )
        type_, _ = self._settings[name]
        self._values[name] = type_(value)

    def __repr__(self):
        items = ", ".join(f"{name}={value!r}" for name, value in sorted(self._values.items()))
        return f"Config({items})"


def flag(value):
    """A boolean setting from a bool or from text: 1/0, true/false, yes/no, on/off.

    >>> flag('0'), flag('Yes'), flag(True)
    (False, True, True)
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected 1/0, true/false, yes/no or on/off, got {value!r}")


flag.__name__ = "boolean"

config = Config()
config.add_setting("default_seed", int, 1, "Seed from which the random states of bricks derive.")
config.add_setting(
    "log_backend", str, "python",
    "Training log kept by a main loop created without one: 'python' (in memory) or 'sqlite'.",
)
config.add_setting(
    "sqlite_database", str, os.path.join(os.path.expanduser("~"), "blocks_log.sqlite"),
    "File of the SQLite database used by the 'sqlite' log backend.",
)
config.add_setting(
    "keep_freed_memory", flag, True,
    "Whether `import blocks` makes glibc keep freed memory for the next training step "
    "(see blocks.utils.memory); BLOCKS_KEEP_FREED_MEMORY=0 leaves the allocator as it is.",
)
config.add_setting(
    "mode", str, "",
    "PyTensor mode every compiled function of the library uses unless given one: 'JAX', "
    "'NUMBA', 'FAST_COMPILE', ... (BLOCKS_MODE); empty: PyTensor's default (Numba on CPU). "
    "See blocks.backend.",
)
