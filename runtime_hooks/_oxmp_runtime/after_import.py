"""Run a callback right after the first import of a module finishes: ``when_imported()``.

The one after-first-import mechanism of the runtime, used by ``boot`` (configure multiprocessing when the app imports
it) and ``deferred`` (PyInstaller's hooks for inspect and pkgutil). It lives in a module of its own, which imports only
``sys``, because PyInstaller bundles everything a bundled module imports, even inside a function: a bundle that
needs this mechanism and not multiprocessing must not have to bundle ``boot``, whose functions import
multiprocessing.
"""

import sys


def when_imported(name, callback):
    """Call ``callback(module)`` right after the first import of module ``name`` finishes (now, if it has)."""
    if name in sys.modules:
        callback(sys.modules[name])
    else:
        sys.meta_path.insert(0, _AfterImport(name, callback))


class _AfterImport:
    """A meta path finder that finds nothing itself: it wraps the real loader of one module to run a callback."""

    def __init__(self, name, callback):
        self.name = name
        self.callback = callback
        self.searching = False

    def find_spec(self, fullname, path=None, target=None):
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
            spec.loader = _CallbackLoader(spec.loader, self.callback, self)
        return spec

    def invalidate_caches(self):
        pass


class _CallbackLoader:
    def __init__(self, loader, callback, finder):
        self.loader = loader
        self.callback = callback
        self.finder = finder

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        if self.finder in sys.meta_path:
            sys.meta_path.remove(self.finder)
        # Leave no trace of the wrapper on the module.
        module.__loader__ = module.__spec__.loader = self.loader
        self.loader.exec_module(module)
        self.callback(module)

    def __getattr__(self, name):
        return getattr(self.loader, name)
