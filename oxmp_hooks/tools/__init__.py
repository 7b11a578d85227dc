"""oxmp's commands, apart from the plugin: the doctor (``doctor.py``, which reads a bundle's files with
``bundle_info.py`` and writes JUnit XML with ``junit.py``) and the contained runner (``contain.py``, with its keeper
process and the process primitives both use, ``keeper.py``, and a cgroup of the run's own, ``cgroup.py``, on Linux)
behind ``python -m oxmp_hooks doctor|run``, whose command lines share ``cli.py``. PyInstaller never loads these while
it builds; what only the test suite or the maintainers use lives in ``tests/`` and ``docs/``, not here."""
