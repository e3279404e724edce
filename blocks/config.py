"""Library-wide settings, read from code, the environment and ``~/.blocksrc``.

A setting's value is, by precedence:

1. the value assigned in code (``config.default_seed = 2``);
2. its environment variable, ``BLOCKS_<NAME>`` (``BLOCKS_DEFAULT_SEED=2``), or the
   name Blocks gave it where it had another (``BLOCKS_SQLITEDB``, ``BLOCKS_TEMPDIR``);
3. the configuration file: ``~/.blocksrc``, or the file named by ``BLOCKS_CONFIG``;
4. its default. A setting without a default that is set nowhere raises
   :class:`ConfigurationError` (an ``AttributeError``) when it is read.

The configuration file holds flat ``key: value`` lines, the subset of YAML that Blocks
users write (comments, quoted strings, numbers, booleans and ``null`` included)::

    data_path: /home/user/datasets
    default_seed: 1234
    profile: false

It is read by a small parser of that format, so PyYAML is not needed; nested YAML is
refused with the line that holds it. A key that names no setting raises ``ValueError``
when :mod:`blocks.config` is imported.

>>> from blocks.config import config
>>> config.default_seed
1
>>> config.default_seed = 2
>>> config.default_seed
2
>>> config.default_seed = 1

Settings: ``default_seed``, ``recursion_limit``, ``profile``, ``log_backend``,
``sqlite_database``, ``max_blob_size``, ``temp_dir``, ``data_path`` (Blocks' settings
and Fuel's ``data_path``), ``keep_freed_memory``, ``mode``, ``rewrite_cache`` and
``compile_ahead``;
``help(config)`` or ``config.describe()`` lists them with their documentation.
``floatX`` is not a Blocks setting: it belongs to PyTensor (``pytensor.config.floatX``).
"""

import ast
import os
import re

__all__ = [
    "Configuration", "Config", "ConfigurationError", "config", "flag", "str_or_none",
    "parse_config_file",
]

_NOT_SET = object()


class ConfigurationError(AttributeError):
    """A setting without a default was read while it is set nowhere."""


class _Setting:
    def __init__(self, name, type_, default, env_vars, doc):
        self.name = name
        self.type_ = type_
        self.default = default
        self.env_vars = env_vars
        self.doc = doc

    def convert(self, value, source):
        try:
            return self.type_(value)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"{source}={value!r} is not a valid {getattr(self.type_, '__name__', 'value')} "
                f"for blocks.config.{self.name}: {error}"
            ) from error


class Configuration:
    """A namespace of typed settings; see the module documentation for the precedence.

    Adding a setting is one call to :meth:`add_config`.

    Examples
    --------
    >>> settings = Configuration()
    >>> settings.add_config('batch_size', int, default=32)
    >>> settings.batch_size
    32
    >>> settings.batch_size = '64'
    >>> settings.batch_size
    64
    """

    def __init__(self):
        object.__setattr__(self, "_settings", {})
        object.__setattr__(self, "_values", {})
        object.__setattr__(self, "_file_values", {})
        object.__setattr__(self, "_file", None)

    def add_config(self, key, type_, default=_NOT_SET, env_var=None, doc=""):
        """Declare a setting.

        Parameters
        ----------
        key : str
            The setting's name, an identifier.
        type_ : callable
            Converts a value given as text (environment) or parsed from the file
            (int, float, bool, None, str) to the setting's type, raising ``ValueError``
            for invalid ones.
        default : object, optional
            Without one, reading the setting while it is set nowhere raises
            :class:`ConfigurationError`.
        env_var : str or list of str, optional
            Environment variables read, in this order, before ``BLOCKS_<KEY>`` (the names
            Blocks gave some settings).
        doc : str
        """
        if not key.isidentifier():
            raise ValueError(f"a setting name must be an identifier; received {key!r}")
        extra = [env_var] if isinstance(env_var, str) else list(env_var or [])
        env_vars = extra + ["BLOCKS_" + key.upper()]
        setting = _Setting(key, type_, default, list(dict.fromkeys(env_vars)), doc)
        self._settings[key] = setting
        # Refuse an invalid environment value now, at import, rather than at first use.
        self._from_environment(setting)

    def add_setting(self, name, type_, default, doc=""):
        """:meth:`add_config` with a default (the name this library used first)."""
        self.add_config(name, type_, default=default, doc=doc)

    def _from_environment(self, setting):
        for env_var in setting.env_vars:
            if env_var in os.environ:
                return setting.convert(os.environ[env_var], f"environment variable {env_var}")
        return _NOT_SET

    def load_yaml(self, path=None):
        """Read the settings of a configuration file (``BLOCKS_CONFIG`` or ``~/.blocksrc``).

        A missing or empty file sets nothing; values read replace those of a file read
        before. Returns the path read, or None.
        """
        if path is None:
            path = os.environ.get("BLOCKS_CONFIG") or os.path.expanduser("~/.blocksrc")
        if not os.path.isfile(path):
            return None
        with open(path, encoding="utf-8") as file_:
            values = parse_config_file(file_.read(), path)
        unknown = sorted(set(values) - set(self._settings))
        if unknown:
            raise ValueError(
                f"{path}: unrecognized setting(s) {', '.join(unknown)}; blocks.config knows "
                f"{', '.join(sorted(self._settings))}"
            )
        for key, value in values.items():
            self._settings[key].convert(value, f"{path}: {key}")
        self._file_values.update(values)
        object.__setattr__(self, "_file", path)
        return path

    def _setting(self, key):
        try:
            return self._settings[key]
        except KeyError:
            raise AttributeError(
                f"blocks.config has no setting {key!r}; known settings: "
                f"{', '.join(sorted(self._settings))}"
            ) from None

    def __getattr__(self, key):
        if key.startswith("_"):
            raise AttributeError(key)
        setting = self._setting(key)
        if key in self._values:
            return self._values[key]
        value = self._from_environment(setting)
        if value is not _NOT_SET:
            return value
        if key in self._file_values:
            return setting.convert(self._file_values[key], f"{self._file}: {key}")
        if setting.default is not _NOT_SET:
            return setting.default
        raise ConfigurationError(
            f"blocks.config.{key} is not set and has no default: set it in ~/.blocksrc "
            f"('{key}: ...'), in the environment variable BLOCKS_{key.upper()}, or in code "
            f"(blocks.config.config.{key} = ...)"
        )

    def __setattr__(self, key, value):
        setting = self._setting(key)
        self._values[key] = setting.convert(value, f"blocks.config.{key}")

    def __delattr__(self, key):
        """Forget the value set in code: the environment, file or default apply again."""
        self._setting(key)
        self._values.pop(key, None)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._settings))

    def describe(self):
        """One line per setting: its name, current value and documentation."""
        lines = []
        for key in sorted(self._settings):
            try:
                value = repr(getattr(self, key))
            except ConfigurationError:
                value = "<not set>"
            lines.append(f"{key} = {value}: {self._settings[key].doc}")
        return "\n".join(lines)

    def __repr__(self):
        items = []
        for key in sorted(self._settings):
            try:
                items.append(f"{key}={getattr(self, key)!r}")
            except ConfigurationError:
                items.append(f"{key}=<not set>")
        return f"{type(self).__name__}({', '.join(items)})"


#: The name this library gave :class:`Configuration` first.
Config = Configuration

_LINE = re.compile(r"^(?P<key>[A-Za-z_]\w*)\s*:(?:\s+(?P<value>.*?))?\s*$")
_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False,
          "null": None, "~": None, "": None}


def _strip_comment(text):
    # A '#' starts a comment unless it is inside quotes or glued to the previous word.
    quote = None
    for index, char in enumerate(text):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or text[index - 1].isspace()):
            return text[:index].rstrip()
    return text


def _scalar(text):
    if text.lower() in _WORDS:
        return _WORDS[text.lower()]
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        if text[0] == "'":
            return text[1:-1].replace("''", "'")
        return ast.literal_eval(text)
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            pass
    return text


def parse_config_file(text, path="<configuration>"):
    """The settings of a configuration file: flat ``key: value`` lines of YAML.

    Values are parsed as YAML scalars: ``true``/``false`` (``yes``/``no``, ``on``/``off``),
    ``null`` (``~`` or nothing), integers, floats, quoted or plain strings.

    >>> parse_config_file('''
    ... # my settings
    ... data_path: /data   # where the datasets are
    ... default_seed: 12
    ... profile: yes
    ... temp_dir: "/tmp/blocks #1"
    ... ''')
    {'data_path': '/data', 'default_seed': 12, 'profile': True, 'temp_dir': '/tmp/blocks #1'}
    """
    values = {}
    for number, line in enumerate(text.splitlines(), start=1):
        content = _strip_comment(line).rstrip()
        if not content.strip() or content.strip() in ("---", "..."):
            continue
        match = _LINE.match(content)
        if match is None or content[0].isspace():
            raise ValueError(
                f"{path}, line {number}: expected a flat 'key: value' line, found {line!r} "
                f"(blocks reads the key: value subset of YAML, without nesting or lists)"
            )
        key, value = match.group("key"), (match.group("value") or "").strip()
        if value[:1] in ("[", "{", "|", ">", "&", "*", "!"):
            raise ValueError(
                f"{path}, line {number}: the value of {key!r} must be a plain scalar, found "
                f"{value!r}"
            )
        if key in values:
            raise ValueError(f"{path}, line {number}: {key!r} is set twice")
        values[key] = _scalar(value)
    return values


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


def str_or_none(value):
    """A text setting that may be None (unset): None stays None.

    >>> str_or_none(None), str_or_none('/tmp')
    (None, '/tmp')
    """
    return None if value is None else str(value)


str_or_none.__name__ = "str"

#: The library's settings: ``blocks.config.mode``, ``default_seed``, ``log_backend``...
config = Configuration()
config.add_config("default_seed", int, default=1,
                  doc="Seed from which the random states of bricks derive.")
config.add_config(
    "recursion_limit", int, default=10000,
    doc="Recursion limit for deep recursions, such as pickling a main loop and its graph "
        "(scripts raise sys.setrecursionlimit to it).",
)
config.add_config("profile", flag, default=False,
                  doc="Whether MainLoop.run times its sections (reading data, training, each "
                      "extension) and prints where the time went at the end "
                      "(see blocks.utils.profile).")
config.add_config(
    "log_backend", str, default="python",
    doc="Training log kept by a main loop created without one: 'python' (in memory) or "
        "'sqlite'.",
)
config.add_config(
    "sqlite_database", str, default=os.path.join(os.path.expanduser("~"), "blocks_log.sqlite"),
    env_var="BLOCKS_SQLITEDB", doc="File of the SQLite database used by the 'sqlite' log backend.",
)
config.add_config(
    "max_blob_size", int, default=4096,
    doc="Size in bytes beyond which an object stored in the SQLite log triggers a warning.",
)
config.add_config(
    "temp_dir", str_or_none, default=None, env_var="BLOCKS_TEMPDIR",
    doc="Directory for temporary files of user code; None for the platform's default "
        "(tempfile). Blocks wrote secure_dump's temporary file there; this library writes "
        "it beside the checkpoint instead, so that the final rename is atomic.",
)
config.add_config(
    "data_path", str, env_var=["BLOCKS_DATA_PATH", "FUEL_DATA_PATH"],
    doc="Directory where datasets read their files (Fuel's data_path); no default.",
)
config.add_config(
    "keep_freed_memory", flag, default=True,
    doc="Whether `import blocks` makes glibc keep freed memory for the next training step "
        "(see blocks.utils.memory); BLOCKS_KEEP_FREED_MEMORY=0 leaves the allocator as it is.",
)
config.add_config(
    "freeze_imported_objects", flag, default=True,
    doc="Whether importing PyTensor after blocks leaves the objects of the process so far "
        "(PyTensor's, Numba's, ours) out of Python's full garbage collections (see "
        "blocks.utils.memory.freeze_imported_objects); BLOCKS_FREEZE_IMPORTED_OBJECTS=0 "
        "leaves the collector as it is.",
)
config.add_config(
    "mode", str, default="",
    doc="PyTensor mode every compiled function of the library uses unless given one: 'JAX', "
        "'NUMBA', 'FAST_COMPILE', ... (BLOCKS_MODE); empty: PyTensor's default (Numba on "
        "CPU). See blocks.backend.",
)
config.add_config(
    "rewrite_cache", flag, default=True,
    doc="Whether compiled functions take their rewritten graphs from the disk cache of "
        "blocks.rewrite_cache (in PyTensor's compiledir), so that a process compiling "
        "a model compiled before skips PyTensor's graph rewrites; BLOCKS_REWRITE_CACHE=0 "
        "rewrites every graph.",
)
config.add_config(
    "compile_ahead", flag, default=True,
    doc="Whether the Numba kernels of the fused ops that a function being compiled will "
        "call start compiling in a helper process while PyTensor rewrites the graph "
        "(blocks.ops.kernel_compile); BLOCKS_COMPILE_AHEAD=0 compiles them at their first "
        "call.",
)
config.load_yaml()
