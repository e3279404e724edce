import io
import os
import pickle
import tarfile
import time
import zipfile

import numpy as np
import pytensor
import pytest

from blocks.bricks import MLP, Tanh
from blocks.initialization import IsotropicGaussian
from blocks.serialization import (
    PARAMETERS_MEMBER,
    PICKLE_MEMBER,
    CheckpointError,
    check_writable,
    dump,
    load,
    load_parameters,
    secure_dump,
    stale_temporaries,
)


def _mlp():
    mlp = MLP([Tanh(), None], [3, 4, 2], weights_init=IsotropicGaussian(0.5),
              biases_init=IsotropicGaussian(0.5), seed=3)
    mlp.initialize()
    return mlp


def _parameters(mlp):
    return [p for linear in mlp.linear_transformations for p in linear.parameters]


def _checkpoint(tmp_path, name="model.tar"):
    mlp = _mlp()
    path = str(tmp_path / name)
    secure_dump(mlp, path, parameters=_parameters(mlp))
    return mlp, path


def test_round_trip_values_and_names(tmp_path):
    mlp, path = _checkpoint(tmp_path)
    values = load_parameters(path)
    assert list(values) == ["/mlp/linear_0.W", "/mlp/linear_0.b",
                            "/mlp/linear_1.W", "/mlp/linear_1.b"]
    np.testing.assert_array_equal(values["/mlp/linear_1.W"],
                                  mlp.linear_transformations[1].W.get_value())
    loaded = load(path)
    for original, copy in zip(_parameters(mlp), _parameters(loaded)):
        np.testing.assert_array_equal(original.get_value(), copy.get_value())
    # Loaded parameters are writable and independent of the original.
    loaded.linear_transformations[0].W.set_value(np.zeros((3, 4)))
    loaded.linear_transformations[0].b.get_value(borrow=True)[:] = 1
    assert not np.all(mlp.linear_transformations[0].W.get_value() == 0)


def test_parameter_values_are_not_repeated_in_the_pickle(tmp_path):
    mlp = _mlp()
    W = mlp.linear_transformations[0].W
    W.set_value(np.full((3, 4), 1234.5678))
    buffer = io.BytesIO()
    dump(mlp, buffer, parameters=_parameters(mlp))
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as tar:
        pickled = tar.extractfile(PICKLE_MEMBER).read()
        stored = tar.extractfile(PARAMETERS_MEMBER).read()
    raw = W.get_value().tobytes()
    assert raw not in pickled
    assert len(pickled) < len(pickle.dumps(mlp)) - len(raw)
    assert zipfile.is_zipfile(io.BytesIO(stored))


def test_load_from_file_object_and_loaded_graph_shares_parameters(tmp_path):
    mlp = _mlp()
    x = pytensor.tensor.matrix("x")
    y = mlp.apply(x)
    buffer = io.BytesIO()
    dump((mlp, y), buffer, parameters=_parameters(mlp))
    buffer.seek(0)
    loaded_mlp, loaded_y = load(buffer)
    f = pytensor.function([_graph_input(loaded_y)], loaded_y)
    data = np.ones((1, 3))
    expected = pytensor.function([x], y)(data)
    np.testing.assert_allclose(f(data), expected)
    loaded_mlp.linear_transformations[1].b.set_value(np.full(2, 10.0))
    np.testing.assert_allclose(f(data), expected - mlp.linear_transformations[1].b.get_value()
                               + 10.0)


def _graph_input(variable):
    from blocks.graph import ComputationGraph

    (x,) = ComputationGraph(variable).inputs
    return x


def test_parameters_as_dict_and_parameters_only(tmp_path):
    shared = pytensor.shared(np.arange(3.0))
    path = str(tmp_path / "p.tar")
    secure_dump(None, path, parameters={"custom/name": shared})
    assert load(path) is None
    np.testing.assert_array_equal(load_parameters(path)["custom/name"], np.arange(3.0))


def test_unbricked_parameters_use_their_names(tmp_path):
    a = pytensor.shared(np.ones(2), name="a")
    path = str(tmp_path / "a.tar")
    secure_dump([a], path, parameters=[a])
    assert list(load_parameters(path)) == ["a"]
    (loaded,) = load(path)
    np.testing.assert_array_equal(loaded.get_value(), np.ones(2))


def test_bad_parameters():
    buffer = io.BytesIO()
    with pytest.raises(ValueError, match="has no name and no brick"):
        dump(None, buffer, parameters=[pytensor.shared(1.0)])
    with pytest.raises(ValueError, match="share the name 'a'"):
        dump(None, buffer, parameters=[pytensor.shared(1.0, name="a"),
                                       pytensor.shared(2.0, name="a")])
    with pytest.raises(TypeError, match="must be a shared variable"):
        dump(None, buffer, parameters={"x": pytensor.tensor.vector()})


def test_load_parameters_does_not_unpickle(tmp_path):
    path = str(tmp_path / "foreign_code.tar")
    with open(path, "wb") as file_:
        with tarfile.open(fileobj=file_, mode="w") as tar:
            values = io.BytesIO()
            np.savez(values, **{"/w": np.ones(2)})
            for name, data in [(PARAMETERS_MEMBER, values.getvalue()),
                               # A pickle that would import a module that does not exist.
                               (PICKLE_MEMBER, b"cno_such_module_xyz\nthing\n.")]:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    np.testing.assert_array_equal(load_parameters(path)["/w"], np.ones(2))
    with pytest.raises(CheckpointError, match="no_such_module_xyz.thing"):
        load(path)
    with pytest.raises(CheckpointError, match="ModuleNotFoundError"):
        load(path, trusted=True)


def _end_of_data(path):
    with tarfile.open(path) as tar:
        return max(member.offset_data + member.size for member in tar.getmembers())


def test_truncated_checkpoints_are_refused(tmp_path):
    _, path = _checkpoint(tmp_path)
    with open(path, "rb") as file_:
        content = file_.read()
    end = _end_of_data(path)
    cuts = sorted({0, 1, 100, 511, 512, 600} | {end * k // 8 for k in range(1, 8)} | {end - 1})
    for cut in cuts:
        truncated = str(tmp_path / f"cut{cut}.tar")
        with open(truncated, "wb") as file_:
            file_.write(content[:cut])
        with pytest.raises(CheckpointError):
            load(truncated)
        if cut < end - len(_pickle_member_bytes(path)):
            with pytest.raises(CheckpointError):
                load_parameters(truncated)


def _pickle_member_bytes(path):
    with tarfile.open(path) as tar:
        return tar.extractfile(PICKLE_MEMBER).read()


def test_foreign_files_are_refused(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a checkpoint\n" * 40)
    zipped = tmp_path / "archive.tar"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("a", "b")
    other_tar = tmp_path / "other.tar"
    with tarfile.open(other_tar, "w") as tar:
        info = tarfile.TarInfo("readme")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    garbage_npz = tmp_path / "garbage.tar"
    with tarfile.open(garbage_npz, "w") as tar:
        for name in (PARAMETERS_MEMBER, PICKLE_MEMBER):
            info = tarfile.TarInfo(name)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"junk"))
    for path, message in [(text, "not a Blocks checkpoint"), (zipped, "not a Blocks"),
                          (other_tar, "no '_parameters' member"),
                          (garbage_npz, "parameter values .* are corrupt")]:
        with pytest.raises(CheckpointError, match=message):
            load(str(path))
        with pytest.raises(CheckpointError, match=message):
            load_parameters(str(path))
    with pytest.raises(FileNotFoundError):
        load(str(tmp_path / "absent.tar"))


def test_corrupt_pickle_is_refused(tmp_path):
    path = tmp_path / "badpickle.tar"
    values = io.BytesIO()
    np.savez(values)
    with tarfile.open(path, "w") as tar:
        for name, data in [(PARAMETERS_MEMBER, values.getvalue()), (PICKLE_MEMBER, b"\x80")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(CheckpointError, match="pickled object .* is corrupt"):
        load(str(path))


def _no_temporaries(directory):
    return [name for name in os.listdir(directory) if name.endswith(".tmp")] == []


def test_failure_mid_write_keeps_the_old_checkpoint(tmp_path):
    mlp, path = _checkpoint(tmp_path)
    with open(path, "rb") as file_:
        before = file_.read()

    def failing_dump(object_, file_, **kwargs):
        file_.write(b"partial checkpoint")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        secure_dump(mlp, path, dump_function=failing_dump)
    with open(path, "rb") as file_:
        assert file_.read() == before
    assert _no_temporaries(tmp_path)
    load(path)


def test_killed_mid_write_keeps_the_old_checkpoint(tmp_path):
    mlp, path = _checkpoint(tmp_path)
    with open(path, "rb") as file_:
        before = file_.read()

    def dying_dump(object_, file_, **kwargs):
        dump(object_, file_, **kwargs)
        file_.flush()
        file_.truncate(file_.tell() // 2)
        os._exit(3)  # the process dies without any cleanup

    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child process
        try:
            secure_dump(mlp, path, dump_function=dying_dump, parameters=_parameters(mlp))
        finally:
            os._exit(4)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 3
    with open(path, "rb") as file_:
        assert file_.read() == before
    np.testing.assert_array_equal(load_parameters(path)["/mlp/linear_0.W"],
                                  mlp.linear_transformations[0].W.get_value())


def test_new_checkpoint_replaces_old_with_normal_permissions(tmp_path):
    mlp, path = _checkpoint(tmp_path)
    mlp.linear_transformations[0].W.set_value(np.zeros((3, 4)))
    secure_dump(mlp, path, parameters=_parameters(mlp))
    np.testing.assert_array_equal(load_parameters(path)["/mlp/linear_0.W"], np.zeros((3, 4)))
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask
    assert _no_temporaries(tmp_path)


def test_unwritable_paths(tmp_path):
    missing = str(tmp_path / "no" / "such" / "dir" / "c.tar")
    for function in (check_writable, lambda path: secure_dump(None, path)):
        with pytest.raises(OSError, match="does not exist"):
            function(missing)
        with pytest.raises(OSError, match="is a directory"):
            function(str(tmp_path))
    check_writable(str(tmp_path / "fine.tar"))
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_directory(tmp_path):
    directory = tmp_path / "ro"
    directory.mkdir()
    directory.chmod(0o500)
    try:
        with pytest.raises(OSError, match="cannot create files in"):
            check_writable(str(directory / "c.tar"))
        with pytest.raises(OSError, match="cannot create files in"):
            secure_dump(None, str(directory / "c.tar"))
    finally:
        directory.chmod(0o700)


def test_permission_denied_is_reported_with_the_path(tmp_path, monkeypatch):
    import blocks.serialization as serialization

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(serialization.tempfile, "mkstemp", denied)
    path = str(tmp_path / "c.tar")
    for function in (check_writable, lambda path: secure_dump(None, path)):
        with pytest.raises(OSError, match=r"cannot write the checkpoint .*c\.tar.*Permission"):
            function(path)


def test_unpicklable_objects_get_a_clear_error(tmp_path):
    path = str(tmp_path / "c.tar")
    secure_dump({"fine": 1}, path)
    with pytest.raises(pickle.PicklingError, match="cannot pickle the dict .*Lambdas"):
        secure_dump({"f": lambda: 1}, path)
    assert load(path) == {"fine": 1}


def test_a_successful_write_removes_stale_temporaries_of_its_checkpoint_only(tmp_path):
    path = str(tmp_path / "model.tar")
    old = time.time() - 60
    ours = [tmp_path / ".model.tar.ab3_x9zq.tmp", tmp_path / ".model.tar.00000000.tmp"]
    others = [tmp_path / ".other.tar.ab3_x9zq.tmp",   # another checkpoint's
              tmp_path / ".model.tar.notours.tmp",      # not mkstemp's 8 characters
              tmp_path / ".model.tar.ab3_x9zq.tmp.bak", tmp_path / "model.tar.tmp",
              tmp_path / "notes.tmp"]
    for file_ in ours + others:
        file_.write_bytes(b"x" * 10)
        os.utime(file_, (old, old))
    # A temporary file written meanwhile (a concurrent write) is left alone.
    fresh = tmp_path / ".model.tar.fresh123.tmp"
    fresh.write_bytes(b"x")
    os.utime(fresh, (time.time() + 60, time.time() + 60))
    assert sorted(stale_temporaries(path)) == sorted(map(str, ours + [fresh]))
    mlp = _mlp()
    secure_dump(mlp, path, parameters=_parameters(mlp))
    assert not any(file_.exists() for file_ in ours)
    assert all(file_.exists() for file_ in others + [fresh])
    assert stale_temporaries(path, before=time.time()) == []
