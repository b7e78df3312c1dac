"""Execute a notebook headless with Jupyter's own client (nbclient), cell by cell.

Used by `candlelab notebook`: stops at the first failing cell, still writes the executed notebook,
and prints one JSON line with the outcome on stdout:
  {"ok": true, "cells": N}
  {"ok": false, "failedCell": I, "ename": "...", "evalue": "..."}
"""
import argparse
import json
import sys

try:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, DeadKernelError, CellTimeoutError
except ImportError as error:  # reported by the TypeScript side with the apt command to fix it
    print(json.dumps({"ok": False, "setup": f"missing Python package: {error.name}"}))
    sys.exit(3)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--kernel", default="tslab")
    parser.add_argument("--cwd", required=True)
    parser.add_argument("--timeout", type=int, default=1800)
    args = parser.parse_args()

    nb = nbformat.read(args.input, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name=args.kernel,
        timeout=args.timeout,
        resources={"metadata": {"path": args.cwd}},
        allow_errors=False,
    )
    outcome = {"ok": True, "cells": len(nb.cells)}
    current = {"index": None}
    try:
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                current["index"] = index
                # nbclient also checks the reply status: tslab reports errors that way, on stderr.
                client.execute_cell(cell, index)
    except CellExecutionError as error:
        outcome = {"ok": False, "failedCell": current["index"], "ename": error.ename, "evalue": error.evalue}
    except (DeadKernelError, CellTimeoutError) as error:
        outcome = {"ok": False, "failedCell": current["index"], "ename": type(error).__name__, "evalue": str(error).splitlines()[0]}
    nbformat.write(nb, args.output)
    print(json.dumps(outcome))
    return 0 if outcome["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
