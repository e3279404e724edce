"""PyTensor's ops whose C code lies in files read those files once per process.

An ``ExternalCOp`` (``DimShuffle``, which every broadcast in an elementwise expression
creates, among others) reads and parses its C files whenever one is created: a third of
a millisecond each, a tenth of a second for the ~300 ``DimShuffle`` of the attention
encoder-decoder's training step, although the Numba backend never uses their C code.
:func:`install` (run once ``pytensor.link.c.op`` is imported after ``import blocks``)
makes ``ExternalCOp.load_c_code`` keep what it read for each class and list of files,
and give every later op of that class copies of it: the same sections, as if read again.
The files are those of an installed package; one edited while a process runs is not
read again by that process.
"""

__all__ = ["install"]

#: (op class, its C files) -> (the files' contents, the sections parsed from them).
_loaded = {}


def _load_c_code_once(self, func_files):
    """``ExternalCOp.load_c_code``, reading each class's files once per process."""
    func_files = list(func_files)
    # Only an op loading its files into empty code (as ExternalCOp.__init__ does) gets
    # the stored copy: anything else runs PyTensor's loader as it is.
    fresh = not self.func_codes and not self.code_sections
    key = (type(self), tuple(func_files))
    if fresh and key in _loaded:
        codes, sections = _loaded[key]
        self.func_codes.extend(codes)
        self.code_sections.update(sections)
        return
    _load_c_code_once.original(self, func_files)
    if fresh:
        _loaded[key] = (list(self.func_codes), dict(self.code_sections))


def install():
    """Put :func:`_load_c_code_once` in ``ExternalCOp`` (idempotent)."""
    from pytensor.link.c.op import ExternalCOp

    if ExternalCOp.load_c_code is not _load_c_code_once:
        _load_c_code_once.original = ExternalCOp.load_c_code
        ExternalCOp.load_c_code = _load_c_code_once
