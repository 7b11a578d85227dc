"""The test suite's keeper on Linux: oxmp's keeper (``oxmp_hooks/tools/keeper.py``) with a set-up of the app's process
before its process cap is set, which oxmp's own runs never have: enter a chroot, close descriptor 2, switch to another
user.

Usage: ``python -I -S keeper_with_setup.py KEEPER SETUP STATUS_FD GO_FD MAX_TASKS APP ARGS...``, run by path as
``tests/contain.py`` runs it: KEEPER, the path of oxmp's keeper; SETUP, ``set_up_app()``'s arguments as JSON; the
rest, oxmp's keeper's own arguments. Like oxmp's keeper, it imports only the standard library.
"""

import json
import os
import sys
import warnings  # noqa: F401 (os.execvp() imports it, after the switch of user; that user may not read the stdlib)


def set_up_app(user_ids, stderr_closed, root=None, cwd=None):
    """What the app's process does before its process cap is set and the app runs: enter the chroot ``root`` (and
    ``cwd`` there) unless None, close descriptor 2, switch to ``user_ids`` (uid, gid) unless None. ``tests/contain.py``
    calls it there too, where there is no keeper."""
    if root is not None:
        os.chroot(root)
        os.chdir(cwd or "/")
    # Nothing the keeper or subprocess does after this, up to the app's exec, leaves a descriptor open: the app starts
    # without descriptor 2.
    if stderr_closed:
        os.close(2)
    if user_ids is not None:
        uid, gid = user_ids
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)


def main(argv):
    keeper_path, setup = argv[1], json.loads(argv[2])
    sys.path.insert(0, os.path.dirname(keeper_path))
    import keeper

    return keeper.main([keeper_path] + argv[3:], setup=lambda: set_up_app(*setup))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
