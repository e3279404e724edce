import os
import subprocess
import sys

import numpy as np
import pytest

from blocks.config import Config, config


def run_python(code, **environment):
    env = {key: value for key, value in os.environ.items() if not key.startswith("BLOCKS_")}
    env.update(environment)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=120)
    return result


def test_default_seed_default_and_set_in_code():
    assert config.default_seed == 1
    try:
        config.default_seed = "3"
        assert config.default_seed == 3 and isinstance(config.default_seed, int)
        with pytest.raises(ValueError):
            config.default_seed = "three"
        assert config.default_seed == 3
    finally:
        config.default_seed = 1


def test_unknown_setting():
    with pytest.raises(AttributeError, match="blocks.config has no setting 'nope'"):
        _ = config.nope
    with pytest.raises(AttributeError, match="no setting 'nope'; known settings: .*default_seed"):
        config.nope = 1


def test_environment_overrides_default(monkeypatch):
    monkeypatch.setenv("BLOCKS_SOME_NUMBER", "7")
    settings = Config()
    settings.add_setting("some_number", int, 1)
    settings.add_setting("other_number", float, 0.5)
    assert settings.some_number == 7 and settings.other_number == 0.5
    assert repr(settings) == "Configuration(other_number=0.5, some_number=7)"


def test_invalid_environment_value(monkeypatch):
    monkeypatch.setenv("BLOCKS_SOME_NUMBER", "seven")
    with pytest.raises(ValueError, match=r"BLOCKS_SOME_NUMBER='seven' is not a valid int for "
                                         r"blocks.config.some_number"):
        Config().add_setting("some_number", int, 1)


SEEDS = (
    "from blocks.config import config; from blocks.bricks import Linear, Random; "
    "print(config.default_seed, Linear().seed, Random().theano_seed)"
)


@pytest.mark.parametrize("seed", [None, 5])
def test_default_seed_from_environment_drives_brick_seeds(seed):
    environment = {} if seed is None else {"BLOCKS_DEFAULT_SEED": str(seed)}
    result = run_python(SEEDS, **environment)
    assert result.returncode == 0, result.stderr
    default_seed, brick_seed, theano_seed = map(int, result.stdout.split())
    expected_seed = 1 if seed is None else seed
    assert default_seed == expected_seed
    # The first seed drawn from a random state seeded by the default seed.
    expected = int(np.random.RandomState(expected_seed).randint(2 ** 30))
    assert brick_seed == expected and theano_seed == expected


def test_invalid_default_seed_in_environment():
    result = run_python("import blocks.config", BLOCKS_DEFAULT_SEED="abc")
    assert result.returncode != 0
    assert "BLOCKS_DEFAULT_SEED='abc' is not a valid int" in result.stderr


# Blocks' settings, the configuration file and the precedence

def test_blocks_settings_and_defaults():
    from blocks.config import ConfigurationError

    assert config.recursion_limit == 10000 and config.max_blob_size == 4096
    assert config.profile is False and config.log_backend == "python"
    assert config.keep_freed_memory in (True, False)
    settings = Config()
    settings.add_config("data_path", str)
    with pytest.raises(ConfigurationError, match="data_path is not set .* BLOCKS_DATA_PATH"):
        _ = settings.data_path
    # An AttributeError, so that hasattr and getattr with a default treat it as unset.
    assert not hasattr(settings, "data_path")
    assert getattr(settings, "data_path", None) is None


def write(path, text):
    path.write_text(text)
    return str(path)


def test_precedence_code_environment_file_default(tmp_path, monkeypatch):
    monkeypatch.delenv("BLOCKS_SEED", raising=False)
    settings = Config()
    settings.add_config("seed", int, default=1)
    assert settings.seed == 1
    settings.load_yaml(write(tmp_path / "rc", "seed: 2\n"))
    assert settings.seed == 2
    monkeypatch.setenv("BLOCKS_SEED", "3")
    assert settings.seed == 3
    settings.seed = 4
    assert settings.seed == 4
    del settings.seed
    assert settings.seed == 3
    monkeypatch.delenv("BLOCKS_SEED")
    assert settings.seed == 2


def test_blocks_environment_names(monkeypatch):
    monkeypatch.setenv("BLOCKS_SQLITEDB", "/tmp/a.sqlite")
    monkeypatch.setenv("BLOCKS_TEMPDIR", "/tmp/blocks_tmp")
    monkeypatch.setenv("FUEL_DATA_PATH", "/data/fuel")
    monkeypatch.setenv("BLOCKS_PROFILE", "true")
    assert config.sqlite_database == "/tmp/a.sqlite"
    assert config.temp_dir == "/tmp/blocks_tmp"
    assert config.data_path == "/data/fuel"
    assert config.profile is True
    monkeypatch.setenv("BLOCKS_DATA_PATH", "/data/blocks")
    assert config.data_path == "/data/blocks"


def test_config_file_from_blocks_config_variable(tmp_path):
    path = write(tmp_path / "settings.yaml", "# mine\ndefault_seed: 7\nprofile: yes\n"
                                             "data_path: '/data/my sets'\ntemp_dir: null\n")
    code = ("from blocks.config import config; "
            "print(config.default_seed, config.profile, config.data_path, config.temp_dir)")
    result = run_python(code, BLOCKS_CONFIG=path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["7", "True", "/data/my", "sets", "None"]
    result = run_python(code, BLOCKS_CONFIG=path, BLOCKS_DEFAULT_SEED="8")
    assert result.stdout.split()[0] == "8"


def test_blocksrc_in_home_and_unknown_key(tmp_path):
    write(tmp_path / ".blocksrc", "recursion_limit: 20000\n")
    result = run_python("from blocks.config import config; print(config.recursion_limit)",
                        HOME=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "20000"
    write(tmp_path / ".blocksrc", "recursion_limt: 20000\n")
    result = run_python("import blocks.config", HOME=str(tmp_path))
    assert result.returncode != 0
    assert "unrecognized setting(s) recursion_limt" in result.stderr


def test_invalid_file_value(tmp_path):
    settings = Config()
    settings.add_config("seed", int, default=1)
    with pytest.raises(ValueError, match=r"rc: seed='x' is not a valid int"):
        settings.load_yaml(write(tmp_path / "rc", "seed: x\n"))
    assert settings.load_yaml(str(tmp_path / "absent")) is None


def test_parse_config_file():
    from blocks.config import parse_config_file

    text = ("a: 1\nb: 2.5\nc: off\nd: ~\ne:\nf: 'it''s'\ng: \"tab\\t\"\nh: plain text # note\n"
            "i: no#comment\n---\n")
    assert parse_config_file(text) == {
        "a": 1, "b": 2.5, "c": False, "d": None, "e": None, "f": "it's", "g": "tab\t",
        "h": "plain text", "i": "no#comment"}
    with pytest.raises(ValueError, match="line 2: expected a flat 'key: value' line"):
        parse_config_file("a: 1\n  b: 2\n", "rc")
    with pytest.raises(ValueError, match="line 1: expected a flat"):
        parse_config_file("- item\n", "rc")
    with pytest.raises(ValueError, match="must be a plain scalar"):
        parse_config_file("paths: [a, b]\n", "rc")
    with pytest.raises(ValueError, match="'a' is set twice"):
        parse_config_file("a: 1\na: 2\n", "rc")

