"""oxmp's runtime: the code that runs inside a PyInstaller bundle.

The runtime hook calls ``boot.run()``. Modules here import only the standard library, and only what they need: a
process that is not a multiprocessing worker or helper, and whose app never imports multiprocessing, loads ``boot``,
``commands``, ``libraries``, ``after_import``, ``messages`` and ``pyinstaller`` and reads no file; in every bundle
oxmp built, ``deferred`` also loads, and reads the small code file of PyInstaller's deferred hooks.
"""
