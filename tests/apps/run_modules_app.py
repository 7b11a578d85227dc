"""An app whose bundle lists `run_module_probe` in run_modules: as itself, it prints one APP RESULT line with its
arguments; with `--start-helper`, it first starts `sys.executable -m run_module_probe helper-arg` as tools do, and
reports what the helper printed and its exit status."""

import json
import subprocess
import sys


def main():
    report = {"app_args": sys.argv[1:]}
    if sys.argv[1:2] == ["--start-helper"]:
        child = subprocess.run(
            [sys.executable, "-m", "run_module_probe", "helper-arg", "--exit", "7"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            universal_newlines=True,
            timeout=60,
        )
        report["helper"] = {
            "returncode": child.returncode,
            "results": [
                json.loads(line[len("RESULT ") :]) for line in child.stdout.splitlines() if line.startswith("RESULT ")
            ],
            "stderr": child.stderr,
        }
    print("APP " + json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
