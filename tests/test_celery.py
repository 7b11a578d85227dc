"""Celery in a bundle: a prefork worker (billiard's pool) run as a task queue inside the app, with a broker and a
result backend that need no server (kombu's filesystem transport, Celery's file system backend), under every start
method, onedir and onefile, as a new user writes it (no freeze_support()), each compared with the same script under
plain `python`: the tasks' results come back from the pool's processes, and SIGTERM (Celery's warm shutdown) stops
the worker with nothing left running and, onefile, no unpacked folder left behind.

One bundle per layout serves every start method.
"""

import pytest

from tests import bundles
from tests.test_real_libraries import assert_clean_run, assert_like_plain_python, needs, unpacked_folders

pytestmark = [pytest.mark.bundle, needs("celery")]

CELERY_SUBMODULES = ["celery", "kombu.transport"]


@pytest.fixture(scope="module", params=["onedir", "onefile"])
def celery_app(builder, request):
    # What any PyInstaller bundle of a Celery worker needs, oxmp or not: Celery and kombu import their parts by name
    # (the loader, fixups, pool, result backend, the worker's steps, the broker's transport).
    return builder.build("celery_app", onefile=request.param == "onefile", submodules=CELERY_SUBMODULES)


@pytest.mark.parametrize("method", bundles.START_METHODS)
def test_a_prefork_worker_runs_tasks_and_stops_cleanly(celery_app, run, bundle_root, method):
    cwd = bundles.scratch_dir(bundle_root)
    # TMPDIR: where a onefile bundle unpacks, so that what it leaves there can be seen.
    result = run(celery_app, method, cwd=cwd, env={"TMPDIR": cwd}, timeout=180)
    assert_clean_run(result)
    assert "STOPPED" in result.stdout, result  # the worker returned: SIGTERM stopped it as it should
    assert bundles.only_result(result) == {"squares": [0, 1, 4, 9], "in_pool_processes": True, "worker_exitcode": 0}
    assert unpacked_folders(cwd) == []
    plain = assert_like_plain_python(result, bundle_root, "celery_app", method)
    assert "STOPPED" in plain.stdout
