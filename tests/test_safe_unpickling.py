"""Safe loading: checkpoints whose pickles carry payloads are refused, never run."""

import io
import os
import pickle
import subprocess
import tarfile

import numpy as np
import pytensor
import pytest

from blocks.algorithms import GradientDescent, Scale
from blocks.bricks import MLP, Tanh
from blocks.extensions import FinishAfter
from blocks.extensions.saveload import Checkpoint
from blocks.initialization import Constant
from blocks.main_loop import MainLoop
from blocks.model import Model
from blocks.safe_unpickling import ForbiddenGlobal, RestrictedUnpickler, allowed_global
from blocks.serialization import (
    PARAMETERS_MEMBER,
    PICKLE_MEMBER,
    CheckpointError,
    continue_training,
    load,
    load_parameters,
    secure_dump,
)


class Payload:
    """Pickles as a call of `function` with `args`: what a malicious file holds."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def _write_checkpoint(path, pickled):
    """A tar checkpoint with a valid parameters member and the given pickle bytes."""
    values = io.BytesIO()
    np.savez(values, **{"/w": np.ones(2)})
    with open(path, "wb") as file_, tarfile.open(fileobj=file_, mode="w") as tar:
        for name, data in [(PARAMETERS_MEMBER, values.getvalue()), (PICKLE_MEMBER, pickled)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _touch_command(marker):
    return f"touch {marker}"


def _payloads(marker):
    """name -> (pickle bytes that would create `marker`, the global the error names)."""
    command = _touch_command(marker).encode()
    code = f"open({str(marker)!r}, 'w').close()"
    return {
        # Written by hand: pickle itself would name os.system after its module, posix.
        "os.system": (b"cos\nsystem\n(V" + command + b"\ntR.", "os.system"),
        "posix.system": (pickle.dumps(Payload(os.system, command.decode())), "posix.system"),
        "subprocess.Popen": (pickle.dumps(Payload(subprocess.Popen, ["touch", str(marker)])),
                             "subprocess.Popen"),
        "builtins.eval": (pickle.dumps(Payload(eval, code)), "builtins.eval"),
        "builtins.exec": (pickle.dumps(Payload(exec, code)), "builtins.exec"),
        # getattr reaches a function's globals, and from them any module.
        "builtins.getattr": (b"cbuiltins\ngetattr\n(cblocks.main_loop\nMainLoop\nVrun\ntR.",
                             "getattr(MainLoop, 'run')"),
        "importlib.import_module": (
            pickle.dumps(Payload(__import__("importlib").import_module, "os")),
            "importlib.import_module"),
    }


@pytest.mark.parametrize("name", list(_payloads("m")))
def test_payloads_are_refused_and_never_run(tmp_path, name):
    marker = tmp_path / "pwned"
    pickled, named = _payloads(marker)[name]
    path = _write_checkpoint(str(tmp_path / "evil.tar"), pickled)
    with pytest.raises(CheckpointError) as error:
        load(path)
    message = str(error.value)
    assert named in message and "load(path, trusted=True)" in message
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="not loaded"):
        continue_training(path)
    assert not marker.exists()
    # The parameter values stay readable: load_parameters unpickles nothing.
    np.testing.assert_array_equal(load_parameters(path)["/w"], np.ones(2))


def test_the_payloads_are_real(tmp_path):
    # Run by an unrestricted unpickler, the os.system payload does what it says.
    marker = tmp_path / "pwned"
    pickled, _ = _payloads(marker)["os.system"]
    path = _write_checkpoint(str(tmp_path / "evil.tar"), pickled)
    assert load(path, trusted=True) == 0
    assert marker.exists()


def _main_loop(tmp_path):
    mlp = MLP([Tanh()], [2, 3], weights_init=Constant(0.1), biases_init=Constant(0))
    mlp.initialize()
    x = pytensor.tensor.matrix("x")
    cost = mlp.apply(x).sum()
    cost.name = "cost"
    model = Model(cost)
    algorithm = GradientDescent(cost=cost, parameters=model.parameters,
                                step_rule=Scale(0.1))
    return MainLoop(algorithm, _ListStream(), model=model,
                    extensions=[Checkpoint(str(tmp_path / "c.tar")),
                                FinishAfter(after_n_epochs=1)])


class _ListStream:
    """One batch per epoch; a class of this module, so loads pass allowed=[_ListStream]."""

    sources = ("x",)

    def get_epoch_iterator(self, as_dict=False):
        return iter([{"x": np.ones((2, 2), dtype=pytensor.config.floatX)}])


def test_a_payload_hidden_in_a_valid_checkpoint_is_refused(tmp_path):
    main_loop = _main_loop(tmp_path)
    main_loop.run()
    path = str(tmp_path / "c.tar")
    assert isinstance(load(path, allowed=[_ListStream]), MainLoop)
    marker = tmp_path / "pwned"
    main_loop.find_extension("Checkpoint").note = Payload(os.system, _touch_command(marker))
    secure_dump(main_loop, path, parameters=main_loop.model.get_parameter_dict())
    with pytest.raises(CheckpointError, match="posix.system"):
        load(path, allowed=[_ListStream])
    assert not marker.exists()


@pytest.mark.parametrize("module, name", [
    ("numpy", "memmap"), ("pytensor.tensor.io", "LoadFromDisk"),
    ("pytensor.compile.function.types", "Function"), ("numpy.lib._npyio_impl", "NpzFile"),
    ("blocks.bricks.base", "wraps"), ("blocks.serialization", "os"),
    ("blocks.serialization", "secure_dump"), ("blocks.main_loop", "MainLoop.run"),
    ("blocks.main_loop", "__builtins__"), ("builtins", "open"), ("builtins", "type"),
    ("pytensor.link.c.cmodule", "GCC_compiler"), ("numpy", "load"),
    ("pytensor.scalar.basic", "ScalarOp.impl"), ("blocks.no_such_module", "X"),
    ("blocks.datasets", "ServerDataStream"), ("blocks.log.sqlite", "SQLiteLog"),
])
def test_refused_globals(module, name):
    with pytest.raises(ForbiddenGlobal, match=f"{module}.{name}".replace(".", r"\.")):
        allowed_global(module, name)


def test_a_class_imported_from_elsewhere_is_judged_by_its_home(monkeypatch):
    import blocks.main_loop

    monkeypatch.setattr(blocks.main_loop, "Popen", subprocess.Popen, raising=False)
    with pytest.raises(ForbiddenGlobal, match="defined in subprocess"):
        allowed_global("blocks.main_loop", "Popen")


@pytest.mark.parametrize("module, name", [
    ("collections", "OrderedDict"), ("numpy", "add"), ("numpy", "float32"),
    ("numpy._core.multiarray", "_reconstruct"), ("blocks.main_loop", "MainLoop"),
    ("pytensor.tensor.elemwise", "Elemwise"), ("builtins", "AssertionError"),
    ("pytensor.scalar.basic", "upcast_out"), ("blocks.bricks.base", "NoneAllocation"),
])
def test_allowed_globals(module, name):
    assert allowed_global(module, name) is not None


def test_only_imported_objects_are_called():
    # Predicate(...) is built, then the pickle calls the instance: refused.
    pickled = (b"cblocks.extensions\nPredicate\n(Vevery_n_epochs\nI1\ntR(NtR.")
    with pytest.raises(ForbiddenGlobal, match="a call of a Predicate"):
        RestrictedUnpickler(io.BytesIO(pickled)).load()


def test_protocol_1_instantiation_calls_only_imported_objects():
    # OBJ ('o') instantiates the first item after the mark: here a Predicate instance,
    # which would be called.
    predicate = b"(cblocks.extensions\nPredicate\nVevery_n_epochs\nI1\no"
    assert RestrictedUnpickler(io.BytesIO(predicate + b".")).load().num == 1
    with pytest.raises(ForbiddenGlobal, match="a call of a Predicate"):
        RestrictedUnpickler(io.BytesIO(b"(" + predicate + b"No.")).load()


def test_new_instances_only_of_imported_classes():
    # NEWOBJ ('\x81') on an instance instead of a class.
    pickled = b"\x80\x02cblocks.extensions\nPredicate\nVafter_n_epochs\nK\x01\x86R)\x81."
    with pytest.raises(ForbiddenGlobal, match="new instance of a Predicate"):
        RestrictedUnpickler(io.BytesIO(pickled)).load()


def test_the_state_of_a_class_is_not_set():
    # BUILD with a slot state would setattr(MainLoop, 'run', 1): patching the library.
    pickled = b"cblocks.main_loop\nMainLoop\n(N(dVrun\nI1\nstb."
    with pytest.raises(ForbiddenGlobal, match="instances only"):
        RestrictedUnpickler(io.BytesIO(pickled)).load()
    assert callable(MainLoop.run)


@pytest.mark.parametrize("protocol", [0, 1, 2])
def test_old_protocols_round_trip(protocol):
    mlp = MLP([Tanh()], [2, 3], weights_init=Constant(0.5), biases_init=Constant(0))
    mlp.initialize()
    loaded = RestrictedUnpickler(io.BytesIO(pickle.dumps(mlp, protocol=protocol))).load()
    assert loaded.linear_transformations[0].W.get_value().tolist() == [[0.5] * 3] * 2
    # Bytes travel as _codecs.encode(text, 'latin1'); no other codec is used.
    pickled = b"c_codecs\nencode\n(Vx\nVrot13\ntR."
    with pytest.raises(ForbiddenGlobal, match="Latin-1 only"):
        RestrictedUnpickler(io.BytesIO(pickled)).load()


def test_applications_of_bricks_round_trip():
    mlp = MLP([Tanh()], [2, 3])
    loaded = RestrictedUnpickler(io.BytesIO(pickle.dumps([mlp, mlp.apply]))).load()
    assert loaded[1].brick is loaded[0]
