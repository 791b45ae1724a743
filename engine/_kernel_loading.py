"""Loading the engine's cached kernels without parsing the LLVM bitcode that only a later compile would use.

A kernel numba caches with ``cache=True`` is stored as its machine code plus its LLVM bitcode. The bitcode
is there so that a function compiled later can link the kernel into itself. numba loads both: it parses the
bitcode, and then walks the parsed module through ctypes to list the symbols it defines. The service's
warm start loads 64 kernels; that parse and walk took 0.4-0.55 s of its ~1.1 s of kernel loading (about
8 ms a kernel, most of it for the network kernels' large modules). With a warm cache nothing compiles
afterwards, so nothing links against them.

Here, for the engine's kernels only (those ``_kernel_cache.EngineCacheLocator`` finds), loading keeps the
bitcode as bytes and parses it the first time a compile links against the kernel (numba asks the library
for its linking module; this hands over the parsed one from then on). The defined symbols come from the
machine code's own symbol table instead: the same names the module defines, checked for every cached
kernel by ``tests/test_kernel_loading.py``. Anything else falls back to numba's own loading: a cached
function outside ``engine/``, an object file that is not 64-bit little-endian ELF (macOS, Windows), or a
numba whose loader no longer looks like the one this was written against (0.60-0.68). The machine code
loaded is numba's, unchanged.
"""

from __future__ import annotations

import struct
import threading

import llvmlite.binding as ll
from numba.core import caching, codegen

from ._kernel_cache import EngineCacheLocator

_ELF64_LE = b"\x7fELF\x02\x01"
_SHT_SYMTAB = 2
_STT_SECTION, _STT_FILE = 3, 4
_SHN_UNDEF = 0

_engine_load = threading.local()  # set while an engine kernel's cache entry is being rebuilt


def defined_symbols(object_code: bytes) -> frozenset[str] | None:
    """The names an ELF64 little-endian relocatable object defines (functions and data, local or global;
    not its section and file symbols), or None if ``object_code`` is not one."""
    if object_code[:6] != _ELF64_LE:
        return None
    shoff, = struct.unpack_from("<Q", object_code, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", object_code, 0x3A)
    # Elf64_Shdr: name, type, flags, addr, offset, size, link, info, addralign, entsize
    sections = [struct.unpack_from("<IIQQQQIIQQ", object_code, shoff + i * shentsize) for i in range(shnum)]
    names = set()
    for _, kind, _, _, offset, size, link, _, _, entsize in sections:
        if kind != _SHT_SYMTAB or not entsize:
            continue
        strings = sections[link][4]
        for k in range(size // entsize):
            # Elf64_Sym starts with: name (offset into the string table), info (type in the low 4 bits),
            # other, section index
            name, info, _, section = struct.unpack_from("<IBBH", object_code, offset + k * entsize)
            if name and section != _SHN_UNDEF and info & 0xF not in (_STT_SECTION, _STT_FILE):
                start = strings + name
                names.add(object_code[start:object_code.index(b"\0", start)].decode())
    return frozenset(names)


def _compatible() -> bool:
    lib, engine = codegen.CPUCodeLibrary, getattr(codegen, "JitEngine", None)
    return (engine is not None and hasattr(engine, "_load_defined_symbols")
            and hasattr(caching, "CompileResultCacheImpl")
            and all(hasattr(lib, a) for a in ("_unserialize", "_get_module_for_linking", "enable_object_caching",
                                              "_set_compiled_object", "_finalize_final_module")))


def install() -> None:
    """Make loading an engine kernel from the cache lazy about its linking bitcode (once per process)."""
    if getattr(codegen.CPUCodeLibrary, "_descentlab_lazy", False) or not _compatible():
        return
    stock_unserialize = codegen.CPUCodeLibrary._unserialize.__func__
    stock_linking = codegen.CPUCodeLibrary._get_module_for_linking
    stock_rebuild = caching.CompileResultCacheImpl.rebuild

    def rebuild(self, target_context, payload):
        if not isinstance(self.locator, EngineCacheLocator):
            return stock_rebuild(self, target_context, payload)
        _engine_load.active = True
        try:
            return stock_rebuild(self, target_context, payload)
        finally:
            _engine_load.active = False

    def _unserialize(cls, cg, state):
        name, kind, data = state
        symbols = None
        if kind == "object" and getattr(_engine_load, "active", False) and len(data) == 2:
            object_code, shared_bitcode = data
            symbols = defined_symbols(object_code)
        if symbols is None:
            return stock_unserialize(cls, cg, state)
        # numba's own steps for an object-code library, less the parse and the walk of the bitcode
        self = cg.create_library(name)
        self.enable_object_caching()
        self._set_compiled_object(object_code)
        self._descentlab_bitcode = shared_bitcode
        self._finalize_final_module()
        cg._engine._defined_symbols |= symbols
        return self

    def _get_module_for_linking(self):
        bitcode = self.__dict__.pop("_descentlab_bitcode", None)
        if bitcode is not None:  # a compile links against a kernel loaded lazily: parse it now, once
            self._shared_module = ll.parse_bitcode(bitcode)
        return stock_linking(self)

    caching.CompileResultCacheImpl.rebuild = rebuild
    codegen.CPUCodeLibrary._unserialize = classmethod(_unserialize)
    codegen.CPUCodeLibrary._get_module_for_linking = _get_module_for_linking
    codegen.CPUCodeLibrary._descentlab_lazy = True


def is_lazy(library) -> bool:
    """Whether ``library`` (a compiled overload's ``.library``) was loaded without parsing its bitcode, and
    no compile has linked against it since."""
    return "_descentlab_bitcode" in library.__dict__
