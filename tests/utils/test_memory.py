"""keep_freed_memory: applied by `import blocks` unless the setting is off."""

import os
import platform
import subprocess
import sys

import pytest

from blocks.config import config, flag
from blocks.utils.memory import freed_memory_kept, keep_freed_memory

PROBE = "import blocks, blocks.utils.memory as m; print(m.freed_memory_kept())"


def imported_with(value):
    env = {**os.environ, "BLOCKS_KEEP_FREED_MEMORY": value}
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                          text=True, timeout=120)
    return done.returncode, done.stdout.strip(), done.stderr


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="glibc's mallopt")
def test_import_keeps_freed_memory_unless_switched_off():
    assert imported_with("1")[:2] == (0, "True")
    assert imported_with("off")[:2] == (0, "False")
    assert keep_freed_memory() is True and freed_memory_kept() is True
    assert keep_freed_memory() is True  # a second call changes nothing


def test_the_setting_is_a_boolean_with_a_clear_error():
    returncode, _, stderr = imported_with("maybe")
    assert returncode != 0
    assert ("BLOCKS_KEEP_FREED_MEMORY='maybe' is not a valid boolean for "
            "blocks.config.keep_freed_memory") in stderr
    previous = config.keep_freed_memory
    try:
        config.keep_freed_memory = "no"
        assert config.keep_freed_memory is False
    finally:
        config.keep_freed_memory = previous
    with pytest.raises(ValueError, match="expected 1/0, true/false"):
        flag("2")


FREEZE_PROBE = ("import gc, blocks, blocks.utils.memory as m; before = gc.get_freeze_count(); "
                "import pytensor; print(m.imported_objects_frozen(), before == 0, "
                "gc.get_freeze_count() > 10000)")


def test_importing_pytensor_freezes_the_imported_objects_unless_switched_off():
    def probe(value):
        env = {**os.environ, "BLOCKS_FREEZE_IMPORTED_OBJECTS": value}
        done = subprocess.run([sys.executable, "-c", FREEZE_PROBE], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.split()

    assert probe("1") == ["True", "True", "True"]
    assert probe("0") == ["False", "True", "False"]


def test_freezing_twice_freezes_once():
    import gc

    from blocks.utils.memory import freeze_imported_objects, imported_objects_frozen

    if not imported_objects_frozen():
        pytest.skip("switched off in this process")
    count = gc.get_freeze_count()
    assert freeze_imported_objects() is False
    assert gc.get_freeze_count() == count
