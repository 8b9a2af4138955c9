/**
 * The Python side of python graders, run as `python3 -I -c PYTHON_RUNNER <memory limit in bytes>`: reads
 * `{source, cases | validate}` as JSON on stdin and writes one JSON line per case to fd 3 (the grader's own prints go
 * to stderr). Sockets fail and the address space is capped; it is not a sandbox: the source is the user's own code.
 * Kept as a string so the bundle carries it.
 */
export const PYTHON_RUNNER = String.raw`
import json
import math
import os
import resource
import socket
import sys
import traceback

limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _no_network(*args, **kwargs):
    raise OSError("network access is disabled for python graders")


socket.socket = _no_network
socket.create_connection = _no_network
socket.getaddrinfo = _no_network

results = os.fdopen(3, "w")
sys.stdout = sys.stderr


def emit(value):
    results.write(json.dumps(value) + "\n")
    results.flush()


def describe(error):
    return "".join(traceback.format_exception_only(type(error), error)).strip()[-2000:]


request = json.load(sys.stdin)
namespace = {"__name__": "grader"}
try:
    exec(compile(request["source"], "<grader>", "exec"), namespace)
    grade = namespace.get("grade")
    if not callable(grade):
        raise TypeError("the source defines no function grade(sample, item)")
except BaseException as error:  # noqa: BLE001 - any failure to load is reported, including SystemExit
    emit({"load_error": describe(error)})
    sys.exit(0)

emit({"ok": True})
if request.get("validate"):
    sys.exit(0)

for case in request["cases"]:
    try:
        value = grade(case["sample"], case["item"])
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"grade() returned {type(value).__name__}, not a number")
        if not math.isfinite(value):
            raise ValueError(f"grade() returned {value}")
        emit({"reward": float(value)})
    except Exception as error:  # noqa: BLE001 - the grader's failure is the result
        emit({"error": describe(error)})
`;
