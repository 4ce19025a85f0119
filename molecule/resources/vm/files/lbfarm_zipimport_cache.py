"""Keep the code Python compiles from sources inside zip files, for the next run (VM image only).

zipimport never writes bytecode, so every Ansible module run (an AnsiballZ zip) compiles
ansible.module_utils again: in a VM without KVM (TCG) that is about 1.5 s of every task. The
image's lbfarm_zipimport_cache.pth calls install() at start-up; the code is then kept in
CACHE_DIR, keyed by the Python version, the file's path inside the zip and its source. Should
the cache fail in any way, the source is compiled as usual.
"""

from __future__ import annotations

import sys
import zipimport
from types import CodeType

TYPE_CHECKING = False  # not typing's: this runs at every start of Python in the VM
if TYPE_CHECKING:
    from collections.abc import Callable

CACHE_DIR = "/var/cache/lbfarm-zipimport"


def cached(compile_source: Callable[[str, bytes], CodeType]) -> Callable[[str, bytes], CodeType]:
    """Wrap zipimport's compile step with the cache."""

    def compile_or_load(pathname: str, source: bytes) -> CodeType:
        import marshal
        import os
        from _blake2 import blake2b

        inner = pathname.rpartition(".zip" + os.sep)[2]
        key = blake2b(f"{sys.version}\0{inner}\0".encode() + source, digest_size=20).hexdigest()
        path = os.path.join(CACHE_DIR, key)
        try:
            with open(path, "rb") as kept:
                code = marshal.load(kept)
            if isinstance(code, CodeType):
                return code
        except (OSError, EOFError, ValueError, TypeError):
            pass
        code = compile_source(pathname, source)
        try:
            os.makedirs(CACHE_DIR, mode=0o700, exist_ok=True)
            partial = f"{path}.{os.getpid()}"
            with open(partial, "wb") as out:
                marshal.dump(code, out)
            os.replace(partial, path)
        except OSError:
            pass
        return code

    return compile_or_load


def install() -> None:
    """Route zipimport's compile step through the cache (once per process)."""
    if not getattr(zipimport._compile_source, "lbfarm_cached", False):
        wrapper = cached(zipimport._compile_source)
        wrapper.lbfarm_cached = True  # type: ignore[attr-defined]
        zipimport._compile_source = wrapper
