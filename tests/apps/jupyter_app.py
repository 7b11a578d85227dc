"""An app that embeds a Jupyter kernel: jupyter_client's KernelManager starts the native "python3" kernel, whose
command is `sys.executable -m ipykernel_launcher -f CONNECTION_FILE` (ipykernel's kernel spec), on loopback; the app
runs one cell and prints one RESULT line with the kernel's command, whether the kernel offers its debugger (debugpy),
and the cell's result. Started with arguments, as a bundle without run_modules would be for its kernel, it says so on
stderr and exits with status 1.

With `JUPYTER_APP_OWN_KERNEL=1` in its environment it looks in no kernel folder (`KernelSpecManager(kernel_dirs=[])`),
so that a "python3" kernel spec installed on the machine (in Jupyter's folders, `JUPYTER_PATH`), which would otherwise
win over the native one, cannot make it start another interpreter.
"""

import json
import os
import sys


def main():
    if sys.argv[1:]:
        # The app takes no arguments: a bundle that runs the app for its kernel's command line ends here.
        print("APP-STARTED-WITH %s" % json.dumps(sys.argv[1:]), file=sys.stderr, flush=True)
        sys.exit(1)
    from jupyter_client import KernelManager

    options = {}
    if os.environ.get("JUPYTER_APP_OWN_KERNEL") == "1":
        from jupyter_client.kernelspec import KernelSpecManager

        options["kernel_spec_manager"] = KernelSpecManager(kernel_dirs=[])  # ipykernel's own spec: this executable
    manager = KernelManager(kernel_name="python3", **options)
    manager.start_kernel()
    # The command it started: the spec's, with "python" made sys.executable (format_kernel_cmd()).
    result = {"kernel_command": manager.format_kernel_cmd(), "executable": sys.executable, "ip": manager.ip}
    try:
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=120)
        info = client.kernel_info(reply=True, timeout=60)["content"]
        # ipykernel offers its debugger where debugpy works: "debugger" in supported_features (7.0+), or True (6.x).
        result["debugger"] = "debugger" in info.get("supported_features", ()) or info.get("debugger") is True
        outputs = []

        def collect(message):
            if message["msg_type"] == "execute_result":
                outputs.append(message["content"]["data"]["text/plain"])

        reply = client.execute_interactive("1+1", output_hook=collect, timeout=120)
        result.update(status=reply["content"]["status"], outputs=outputs)
        client.stop_channels()
    finally:
        manager.shutdown_kernel(now=False)
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
