"""oxmp's runtime: the code that runs inside a PyInstaller bundle.

The runtime hook (runtime_hooks/rthooks/pyi_rth_oxmp_multiprocessing.py) calls ``boot.run()`` for every process that it
does not find surely the app's. Modules here import only the standard library, and only what they need: a process
that is not a multiprocessing worker or helper, and whose app never imports multiprocessing, loads none of oxmp's
multiprocessing modules; in every bundle oxmp built, ``deferred`` and ``after_import`` load, and ``deferred`` reads
the small code file of PyInstaller's deferred hooks.
"""
