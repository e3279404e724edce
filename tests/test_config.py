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
    assert repr(settings) == "Config(other_number=0.5, some_number=7)"


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
