# oxmp's runtime hook for multiprocessing. It replaces PyInstaller's own pyi_rth_multiprocessing.py.
# Runtime hooks share the entry script's __main__ namespace, so everything happens inside a function that is deleted.
#
# It runs at every start of every process of the bundle, so it costs the app nothing it can avoid ("free when
# unused"): a process whose command line has none of the tokens that make a worker or helper (classify() in
# _oxmp_runtime/commands.py looks at nothing else), and no doctor variable, is surely the app. Then it imports nothing
# of oxmp's until the app imports one of the multiprocessing libraries, and sets up at that moment what boot.run()
# would have. Every other process takes boot.run(), the full path.
#
# This file's code is decompressed and run at every start: its explanations are comments, not docstrings, which
# would be part of the code (benchmarks/bench.py counts the instructions; see its docstring).


def _pyi_rthook():
    # Returns its names: tests/test_boot.py runs this definition alone to test them.
    import os
    import sys

    # Copies, which this file cannot import without the cost it avoids; tests/test_boot.py checks each against the
    # module that owns it, and that surely_app() never says yes where classify() finds a worker or helper.
    # commands.WORKER_FLAGS, "-c" and "-m" (loky's workers, and the modules of the run_modules setting, which only the
    # full path reads), anywhere in argv:
    markers = frozenset(["--multiprocessing-fork", "--billiard-fork", "-c", "-m"])
    doctor_env = "_OXMP_DOCTOR"  # doctor.DOCTOR_ENV
    library_names = frozenset(["multiprocessing", "multiprocess", "billiard"])  # libraries.LIBRARIES

    # True only if this process is surely the app and oxmp has nothing to do before it imports a library: argv has no
    # worker or helper token, there is no doctor variable, and no library is imported yet. Plain checks of strings:
    # argv and the environment are data.
    def surely_app(argv, environ, modules):
        try:
            return doctor_env not in environ and markers.isdisjoint(argv[1:]) and library_names.isdisjoint(modules)
        except TypeError:  # something that is not a string in argv: the full path judges it
            return False

    # What every process needs before any code of the app's, worker or not:
    # - Ignore SIGPIPE, as Python itself does at start-up, where PyInstaller's bootloader left it at its default.
    #   PyInstaller 6.0-6.2 started Python without its signal handlers (fixed by pyinstaller#8105): a process writing
    #   to a pipe whose reader is gone, such as the pipe to a worker that failed to start, is then killed by SIGPIPE
    #   instead of getting BrokenPipeError. Python ignores SIGPIPE whenever it installs its handlers, so the default
    #   here, before the app's code, can only mean that bug. `_signal` (checked: 3.8-3.14) is the built-in module
    #   behind `signal`, loaded by the interpreter itself; `signal` would cost its enums.
    # - POSIX: open /dev/null on descriptors 0, 1 and 2 where they are closed, as set-uid programs do. Worker and
    #   helper command lines that name a standard stream are refused (commands.py): data on the app's stdin is never a
    #   parent's. A process started with one of them closed would otherwise get a pipe or socket there from
    #   multiprocessing, and refuse its own workers. sys.stdin and friends stay as Python set them (None).
    def start_like_python():
        import _signal

        if hasattr(_signal, "SIGPIPE") and _signal.getsignal(_signal.SIGPIPE) == _signal.SIG_DFL:
            _signal.signal(_signal.SIGPIPE, _signal.SIG_IGN)
        if os.name != "posix":
            return
        for fd in (0, 1, 2):
            try:
                os.fstat(fd)
            except OSError:
                os.open(os.devnull, os.O_RDWR)  # takes the lowest free number: this one

    # A meta path finder that finds nothing itself: at the first import of any of the libraries it leaves
    # sys.meta_path, sets up what boot.run() sets up in the app (boot.watch_libraries(): configure each library right
    # after its first import), and lets that find the module. A finder is any object with a find_spec method; this one
    # is a bare namespace (a module object, whose type needs no import) holding a function, so that no class is made
    # at every start (the difference is small: within 0.1 million instructions of a 60 million start, by callgrind).
    def library_watcher(lock):
        done = []

        def find_spec(fullname, path=None, target=None):
            if fullname not in library_names:
                return None
            with lock:  # a thread importing another library meanwhile waits until the set-up is done
                if not done:
                    done.append(True)
                    if watcher in sys.meta_path:
                        sys.meta_path.remove(watcher)
                    from _oxmp_runtime import boot

                    boot.watch_libraries()
            import importlib.util

            return importlib.util.find_spec(fullname)  # through boot's own import hook for this library

        watcher = type(sys)("oxmp library watcher")
        watcher.find_spec = find_spec
        return watcher

    # `import <entry script's name>` as under python, in the app and in every worker (uvicorn's workers import "app"
    # from "app:api"): a finder last on sys.meta_path, asked only about modules no other finder has (the bundle's own
    # module of that name wins). It looks for the entry script's code file by name, _oxmp/entry/<name>.code
    # (entry.CODE_DIR, entry.CODE_SUFFIX), and loads oxmp's entry module only when the name is one.
    def entry_script_finder(meipass):
        folder = os.path.join(meipass, "_oxmp", "entry")

        def find_spec(fullname, path=None, target=None):
            if path is not None or not os.path.isfile(os.path.join(folder, fullname + ".code")):
                return None
            from _oxmp_runtime import entry

            return entry.find_spec(meipass, fullname)

        finder = type(sys)("oxmp entry script finder")
        finder.find_spec = find_spec
        return finder

    # Registered at start, before any library's exit handler, as boot.run() registers boot.stop_helpers: atexit runs
    # handlers last-in first-out. boot is loaded once a library is imported, and not before.
    def stop_helpers():
        boot = sys.modules.get("_oxmp_runtime.boot")
        if boot is not None:
            boot.stop_helpers()

    def run():
        start_like_python()
        sys.meta_path.append(entry_script_finder(sys._MEIPASS))
        if getattr(sys, "frozen", False) and surely_app(sys.argv, os.environ, sys.modules):
            import _thread
            import atexit

            atexit.register(stop_helpers)
            sys.meta_path.insert(0, library_watcher(_thread.allocate_lock()))
            return
        from _oxmp_runtime import boot

        boot.run()

    return locals()


_pyi_rthook()["run"]()
del _pyi_rthook
