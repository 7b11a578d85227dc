import os
import shutil
import tempfile

import pytest

from tests import bundles, reporting


def pytest_addoption(parser):
    parser.addoption("--keep-bundles", action="store_true", help="keep the bundles built by this run")
    parser.addoption(
        "--shell-parent",
        action="store_true",
        help="start every bundle that a test starts directly through a shell of its own user that stays "
        "its parent (tests/bundles.py SHELL_PARENT)",
    )


def pytest_configure(config):
    if config.getoption("--shell-parent"):
        bundles.DEFAULT_WRAPPER[:] = bundles.SHELL_PARENT


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: the controller, when a worker has finished
def pytest_testnodedown(node, error):
    reporting.relay(node.config, getattr(node, "workeroutput", None))


@pytest.fixture(scope="session")
def bundle_root(request):
    # Not pytest's tmp_path: its folders are private to root, and bundles run as an unprivileged user.
    root = tempfile.mkdtemp(prefix="oxmp-tests-")
    os.chmod(root, 0o755)
    yield root
    if not request.config.getoption("--keep-bundles"):
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def builder(bundle_root):
    stock = {}

    def stock_python():
        if "python" not in stock:
            stock["python"] = bundles.make_stock_python(bundle_root)
        return stock["python"]

    # A bundle's second layout (onedir, onefile) reuses the first's Analysis, as PyInstaller does when a spec is built
    # again. The archives keep PyInstaller's own compression: onefile bundles unpack as users' do.
    return bundles.Builder(bundle_root, stock_python, share_analysis=True)


@pytest.fixture
def run(bundle_root):
    """run(bundle, *args, env=..., ...) -> contain.Result, contained, in a fresh scratch directory."""

    def run(bundle, *args, **kwargs):
        kwargs.setdefault("root", bundle_root)
        return bundles.run(bundle, *args, **kwargs)

    return run


@pytest.fixture(scope="module", params=["onedir", "onefile"])
def matrix(builder, request):
    """tests/apps/mp_matrix.py with default settings, onedir and onefile (built once per run)."""
    return builder.build("mp_matrix", onefile=request.param == "onefile")
