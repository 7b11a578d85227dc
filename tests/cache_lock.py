"""One test session at a time per cache folder outside the checkout (the Wine lane's, the other Pythons')."""

import os
import time

LOCK_WAIT = 30 * 60  # seconds a session waits for another one using the same cache


class CacheLock:
    """An exclusive lock on ``folder``, held by this process until ``release()``; ``acquire()`` waits up to
    ``LOCK_WAIT`` for another session's. On Windows (no fcntl) sessions that share a cache are not kept apart."""

    def __init__(self, folder):
        self.folder = folder
        self._file = None

    def acquire(self):
        try:
            import fcntl
        except ImportError:
            return
        if self._file is not None:
            return
        os.makedirs(self.folder, exist_ok=True)
        self._file = open(os.path.join(self.folder, "lock"), "w")
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("another test session has held %s for %d s" % (self.folder, LOCK_WAIT)) from None
                time.sleep(1)

    def release(self):
        if self._file is not None:
            self._file.close()
            self._file = None
