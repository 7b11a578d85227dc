"""OXMP_START_METHOD's warning is one line of reasonable length, whatever the variable holds; a short bad value is
shown whole (the control)."""

import sys

import pytest

from _oxmp_runtime import settings
from tests import bundles

HUGE = "x" * (100 * 1024)  # below Linux's limit for one environment string (128 KiB)


def test_warning_is_cut():
    value, warning = settings.start_method_override(HUGE, sys.platform)
    assert value is None and "\n" not in warning and len(warning) < 400, len(warning)
    assert warning.startswith("ignoring OXMP_START_METHOD='xxx") and "...(102402 characters)" in warning
    # The control: a short value is shown as it is.
    assert settings.start_method_override("threads", sys.platform)[1].startswith(
        "ignoring OXMP_START_METHOD='threads': allowed values are auto, none, "
    )


@pytest.mark.bundle
@pytest.mark.parametrize("onefile", [False, True], ids=["onedir", "onefile"])
def test_bundle_warns_in_one_short_line(builder, run, onefile):
    bundle = builder.build("probe", onefile=onefile)
    for value, longest in ((HUGE, 400), ("threads", None)):
        result = run(bundle, env={settings.START_METHOD_ENV: value})
        assert result.returncode == 0 and bundles.only_result(result)["start_method"] == bundles.AUTO_START_METHOD
        said = [line for line in result.stderr.splitlines() if line.startswith("oxmp: ignoring")]
        assert len(said) == 1, result.stderr[:2000]
        if longest is None:  # the control: the whole value
            assert "OXMP_START_METHOD='threads'" in said[0]
        else:
            assert len(result.stderr) < longest and "...(102402 characters)" in said[0], len(result.stderr)
