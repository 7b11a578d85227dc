"""Wine 8 lacks two kernel32 functions that CPython 3.13 calls; a call aborts the whole process ("Unimplemented
function KERNEL32.dll.X"). Does nothing outside Wine.

- ``os.getppid()`` uses ``PssCaptureSnapshot``: here it asks ``NtQueryInformationProcess`` instead, which Wine has.
  oxmp's loky Windows path calls ``os.getppid()``, so the joblib bundle takes this file as a runtime hook.
- ``shutil.copy2()`` uses ``_winapi.CopyFile2``: without it, shutil falls back to copying the bytes (PyInstaller's
  builds need this).

The Windows lane (tests/wine.py) also installs this file as ``sitecustomize`` in its Windows Pythons. Test-only: oxmp
itself never carries it.
"""


def _install_wine_shims():
    import os
    import sys

    if sys.platform != "win32":
        return
    import ctypes

    ntdll = ctypes.WinDLL("ntdll")
    if not hasattr(ntdll, "wine_get_version"):
        return  # real Windows

    class ProcessBasicInformation(ctypes.Structure):
        _fields_ = [
            ("ExitStatus", ctypes.c_ssize_t),
            ("PebBaseAddress", ctypes.c_void_p),
            ("AffinityMask", ctypes.c_size_t),
            ("BasePriority", ctypes.c_long),
            ("UniqueProcessId", ctypes.c_size_t),
            ("InheritedFromUniqueProcessId", ctypes.c_size_t),
        ]

    def getppid():
        info = ProcessBasicInformation()
        status = ntdll.NtQueryInformationProcess(ctypes.c_void_p(-1), 0, ctypes.byref(info), ctypes.sizeof(info), None)
        if status != 0:
            raise OSError("NtQueryInformationProcess failed: 0x%08x" % (status & 0xFFFFFFFF))
        return info.InheritedFromUniqueProcessId

    os.getppid = getppid
    import _winapi

    if hasattr(_winapi, "CopyFile2"):
        del _winapi.CopyFile2


_install_wine_shims()
del _install_wine_shims
