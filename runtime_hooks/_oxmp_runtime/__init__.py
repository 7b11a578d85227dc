"""oxmp's runtime: the code that runs inside a PyInstaller bundle.

oxmp's runtime hooks (runtime_hooks/rthooks/) load these modules only once a process needs them:

- the runtime hook for multiprocessing calls ``boot.run()`` for every process that its quick look at the command line
  and the environment cannot tell from the app (a worker, a helper, the doctor's run; a command line with ``-c`` or
  ``-m``). In the app it loads ``boot``, and what boot needs, at the first import of multiprocessing, multiprocess or
  billiard, and ``entry`` at an import of an entry script by its name;
- the runtime hook for inspect and pkgutil loads ``deferred`` at the module's first import (with ``after_import``),
  or at start-up where the build runs PyInstaller's hooks for it then (``defer_pyinstaller_hooks`` off, or a hook file
  of a version oxmp has not checked).

So a process of the app, whose command line and environment are no worker's, helper's or doctor's, loads no module
of oxmp's, not even this package, until it imports multiprocessing, multiprocess, billiard, inspect or pkgutil, or an
entry script by its name (with PyInstaller's hooks for inspect and pkgutil deferred, as they are by default). Modules
here import only the standard library, and only what they need.
"""

# One module object per runtime module: in a bundle, and at build time through oxmp_hooks.runtime_module(), this
# package is `_oxmp_runtime`. Reached another way (`runtime_hooks._oxmp_runtime`, with the folder above it on
# sys.path), it would be a second copy whose constants and state are not the ones the runtime and the build use.
if __name__ != "_oxmp_runtime":
    raise ImportError(
        "oxmp's runtime package is imported as _oxmp_runtime, not as %s: at build time, call "
        "oxmp_hooks.runtime_module(NAME) for _oxmp_runtime.NAME" % __name__
    )
