"""ExternalCOp's C files are read once per class and process, with the same result."""

import pytest
from pytensor.link.c.op import ExternalCOp
from pytensor.tensor.elemwise import DimShuffle

from blocks import c_code_files


def test_installed_with_pytensor():
    assert ExternalCOp.load_c_code is c_code_files._load_c_code_once


def test_an_op_gets_what_pytensors_loader_reads_in_a_copy_of_its_own():
    first, second = (DimShuffle(input_ndim=1, new_order=("x", 0)) for _ in range(2))
    reference = DimShuffle.__new__(DimShuffle)
    reference.func_codes, reference.code_sections = [], {}
    c_code_files._load_c_code_once.original(reference, second.func_files)
    assert second.func_codes == reference.func_codes
    assert second.code_sections == reference.code_sections
    assert second.code_sections and second.code_sections is not first.code_sections
    assert second.func_codes is not first.func_codes


def _op_class(path):
    class FileOp(ExternalCOp):
        __props__ = ()

        def __init__(self):
            super().__init__(str(path))

        def make_node(self, *inputs):
            raise NotImplementedError

        def perform(self, node, inputs, output_storage):
            raise NotImplementedError

    return FileOp


def test_a_class_reads_its_files_once(tmp_path):
    path = tmp_path / "op.c"
    path.write_text("#section support_code\nint one(void) { return 1; }\n")
    FileOp = _op_class(path)
    assert "return 1" in FileOp().code_sections["support_code"]
    path.unlink()
    assert "return 1" in FileOp().code_sections["support_code"]


def test_a_file_pytensor_refuses_is_refused_every_time(tmp_path):
    path = tmp_path / "op.c"
    path.write_text("int stray(void) { return 0; }\n")
    FileOp = _op_class(path)
    for _ in range(2):
        with pytest.raises(ValueError, match="section marker"):
            FileOp()


def test_loading_into_an_op_with_sections_runs_pytensors_loader(tmp_path):
    path = tmp_path / "op.c"
    path.write_text("#section support_code\nint one(void) { return 1; }\n")
    op = _op_class(path)()
    op.func_codes, op.code_sections = [], {"support_code": "/* before */"}
    op.load_c_code([path])
    # PyTensor's loader appends to the sections there are.
    assert op.code_sections["support_code"].startswith("/* before */")
    assert "return 1" in op.code_sections["support_code"]
