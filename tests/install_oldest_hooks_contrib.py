"""Install the oldest pyinstaller-hooks-contrib that the installed PyInstaller allows (the floor of its requirement).

tox runs this in the environment of the newest PyInstaller, whose floor moves with each release: oxmp is then tested
beside the oldest hooks a user of that PyInstaller can have. (The older PyInstaller environments pin theirs in tox.ini.)
"""

import subprocess
import sys
from importlib import metadata

from packaging.requirements import Requirement  # a dependency of PyInstaller

DISTRIBUTION = "pyinstaller-hooks-contrib"


def floor(requirements, name=DISTRIBUTION):
    """The lowest version that ``requirements`` (Requires-Dist lines) allow for ``name``, or None."""
    for text in requirements:
        requirement = Requirement(text)
        if requirement.name.lower().replace("_", "-") != name:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        lowest = [spec.version for spec in requirement.specifier if spec.operator in (">=", "==", "~=")]
        if lowest:
            return lowest[0]
    return None


def main():
    version = floor(metadata.requires("pyinstaller") or [])
    if version is None:
        sys.exit("PyInstaller %s sets no lower bound for %s" % (metadata.version("pyinstaller"), DISTRIBUTION))
    print(
        "PyInstaller %s allows %s>=%s: installing %s"
        % (metadata.version("pyinstaller"), DISTRIBUTION, version, version),
        flush=True,
    )
    subprocess.check_call(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "%s==%s" % (DISTRIBUTION, version),
        ]
    )


if __name__ == "__main__":
    main()
