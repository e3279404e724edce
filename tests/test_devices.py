"""Data-parallel training over 4 forced CPU devices, each check in a process of its own
(JAX reads XLA_FLAGS once, when it starts): see tests/multidevice_checks.py."""

import os
import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("jax")

SCRIPT = pathlib.Path(__file__).with_name("multidevice_checks.py")
ROOT = SCRIPT.parent.parent


def _run(check, *args):
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-W", "ignore", str(SCRIPT), check, *args],
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]


def test_four_devices_train_as_one_with_quartered_batches():
    _run("equal_to_one_device")


def test_four_device_checkpoint_resumes_exactly_and_loads_on_one_device(tmp_path):
    _run("checkpoint_and_resume", str(tmp_path))


def test_monitoring_splits_batches_over_devices():
    _run("monitoring_on_devices")


def test_errors_of_data_parallel_training():
    _run("errors")


def test_devices_need_the_jax_backend():
    import pytensor.tensor as pt

    from blocks.algorithms import GradientDescent

    w = __import__("pytensor").shared(1.0, name="w")
    cost = (w * pt.scalar("x")) ** 2
    with pytest.raises(ValueError, match="needs the JAX backend"):
        GradientDescent(cost=cost, parameters=[w], mode="FAST_COMPILE", devices=2)
