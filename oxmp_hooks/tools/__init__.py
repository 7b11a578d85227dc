"""oxmp's tools, apart from the plugin: the doctor (``doctor.py``, which reads a bundle's files with
``bundle_info.py``) and the contained runner (``contain.py``, with its keeper process on Linux, ``keeper.py``) behind
``python -m oxmp_hooks doctor|run``, whose command lines share ``cli.py``. PyInstaller never loads these while it
builds."""
