"""Run a callback right after the first import of a module finishes: ``when_imported()``.

The one after-first-import mechanism of the runtime, used by ``boot`` (configure multiprocessing when the app imports
it) and ``deferred`` (PyInstaller's hooks for inspect and pkgutil). It lives in a module of its own, which imports only
``sys``, because PyInstaller bundles everything a bundled module imports, even inside a function: a bundle that
needs this mechanism and not multiprocessing must not have to bundle ``boot``, whose functions import
multiprocessing.
"""

import sys

# Names for annotations only: nothing is imported for them at run time (mypy takes any TYPE_CHECKING as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any, Callable, Sequence

    Callback = Callable[[ModuleType], object]


def when_imported(name: "str", callback: "Callback") -> "None":
    """Call ``callback(module)`` right after the first import of module ``name`` finishes (now, if it has)."""
    if name in sys.modules:
        callback(sys.modules[name])
    else:
        sys.meta_path.insert(0, _AfterImport(name, callback))


class _AfterImport:
    """A meta path finder that finds nothing itself: it wraps the real loader of one module to run a callback."""

    def __init__(self, name: "str", callback: "Callback") -> "None":
        self.name = name
        self.callback = callback
        self.searching = False

    def find_spec(
        self, fullname: "str", path: "Sequence[str] | None" = None, target: "ModuleType | None" = None
    ) -> "ModuleSpec | None":
        if fullname != self.name or self.searching:
            return None
        import importlib.util

        # It stays in sys.meta_path until the module runs (_CallbackLoader.exec_module): a find_spec() of the app's
        # that imports nothing (importlib.util.find_spec) must not use it up.
        self.searching = True
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self.searching = False
        if spec is not None and spec.loader is not None:
            spec.loader = _CallbackLoader(spec.loader, self.callback, self)  # type: ignore[assignment]  # a wrapper
        return spec

    def invalidate_caches(self) -> "None":
        pass


class _CallbackLoader:
    def __init__(self, loader: "Any", callback: "Callback", finder: "_AfterImport") -> "None":
        self.loader = loader
        self.callback = callback
        self.finder = finder

    def create_module(self, spec: "ModuleSpec") -> "ModuleType | None":
        return self.loader.create_module(spec)

    def exec_module(self, module: "ModuleType") -> "None":
        if self.finder in sys.meta_path:
            sys.meta_path.remove(self.finder)
        # Leave no trace of the wrapper on the module.
        module.__loader__ = module.__spec__.loader = self.loader  # type: ignore[union-attr]  # a spec: this loader's
        self.loader.exec_module(module)
        self.callback(module)

    def __getattr__(self, name: "str") -> "Any":
        return getattr(self.loader, name)
