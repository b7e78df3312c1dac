"""Execute a notebook headless with Jupyter's own client (nbclient), cell by cell.

Used by `candlelab notebook`: stops at the first failing cell, still writes the executed notebook
(with an error banner on top, as papermill does), optionally its HTML export (nbconvert), and prints
one JSON line with the outcome on stdout:
  {"ok": true, "cells": N}
  {"ok": false, "failedCell": I, "cellId": "...", "ename": "...", "evalue": "...", "message": "...", "timeout": bool}
failedCell counts the cells of the notebook as run (the banner, inserted after the failure, not counted).
"""
import argparse
import json
import math
import re
import os
import sys
import traceback

try:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, DeadKernelError, CellTimeoutError
except ImportError as error:  # reported by the TypeScript side with the apt command to fix it
    print(json.dumps({"ok": False, "setup": f"missing Python package: {error.name}"}))
    sys.exit(3)


def stderr_error(cell) -> str:
    """tslab reports a cell's error on stderr, with an empty evalue: the first error-looking line there."""
    lines = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            lines += [line.strip() for line in "".join(output.get("text", "")).splitlines() if line.strip()]
    for line in lines:
        if re.match(r"^\w*(Error|Exception)\b.*:", line) or re.match(r"^\d+:\d+ - ", line):
            return line
    return lines[0] if lines else ""


def banner(outcome: dict) -> "nbformat.NotebookNode":
    index = outcome["failedCell"]
    text = (
        f'<span style="color:red; font-size:1.2em">**candlelab notebook: execution failed at cell {index}**</span>\n\n'
        f"Cell {index} (counting from 0 below this banner) failed: {outcome['message']}\n\n"
        "Cells after it did not run. Fix the cell and run the notebook again."
    )
    cell = nbformat.v4.new_markdown_cell(text)
    cell.metadata["tags"] = ["candlelab-error"]
    return cell


def export_html(nb, target: str) -> None:
    from nbconvert import HTMLExporter  # imported only when asked for: it takes a while

    body, _ = HTMLExporter().from_notebook_node(nb)
    with open(target, "w", encoding="utf-8") as handle:
        handle.write(body)


KERNEL_START_ATTEMPTS = 3


def discard_kernel(client) -> None:
    """Shut down a kernel that failed to start (nbclient cleans up only some of the failure paths)."""
    try:
        if client.km is not None and client.km.has_kernel:
            client.km.shutdown_kernel(now=True)
    except Exception:  # noqa: BLE001 - it is already broken; the retry must not fail on its remains
        pass


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--kernel", default="tslab")
    parser.add_argument("--cwd", required=True)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--html")
    args = parser.parse_args()

    nb = nbformat.read(args.input, as_version=4)
    outcome = {"ok": True, "cells": len(nb.cells)}
    current = {"index": None}
    for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
        client = NotebookClient(
            nb,
            kernel_name=args.kernel,
            timeout=max(1, math.ceil(args.timeout)),  # nbclient takes whole seconds
            resources={"metadata": {"path": args.cwd}},
            allow_errors=False,
            # a loaded 2-core machine can take a while to start Node + TypeScript; the default is 60 s
            startup_timeout=180,
        )
        try:
            with client.setup_kernel():
                for index, cell in enumerate(nb.cells):
                    current["index"] = index
                    # nbclient also checks the reply status: tslab reports errors that way, on stderr.
                    client.execute_cell(cell, index)
            break
        except CellExecutionError as error:
            evalue = error.evalue or stderr_error(nb.cells[current["index"]])
            ename = error.ename if error.ename not in ("", "<Error>") else evalue.split(":")[0] or "Error"
            outcome = {"ok": False, "failedCell": current["index"], "ename": ename, "evalue": evalue, "timeout": False}
            break
        except CellTimeoutError:
            outcome = {
                "ok": False, "failedCell": current["index"], "ename": "CellTimeoutError", "timeout": True,
                "evalue": f"cell {current['index']} ran longer than the time limit of {args.timeout:g} s per cell and was stopped",
            }
            break
        except DeadKernelError as error:
            if current["index"] is None and attempt < KERNEL_START_ATTEMPTS:
                print(f"the kernel died while starting ({error}); starting a new one with fresh ports", file=sys.stderr)
                discard_kernel(client)
                continue
            outcome = {"ok": False, "failedCell": current["index"] or 0, "ename": "DeadKernelError", "evalue": str(error).splitlines()[0], "timeout": False}
            break
        except Exception as error:  # noqa: BLE001 - only a kernel that never started is retried
            # Jupyter picks the kernel's ports, frees them, and the kernel binds them later: another process
            # can take one in between (jupyter_client#276, #487). Nothing has run yet, so start a new kernel
            # with freshly chosen ports.
            if current["index"] is None and attempt < KERNEL_START_ATTEMPTS:
                print(f"the kernel did not start ({type(error).__name__}: {error}); starting a new one with fresh ports", file=sys.stderr)
                discard_kernel(client)
                continue
            if current["index"] is None:
                print(f"the {args.kernel} kernel did not start after {attempt} attempts: {type(error).__name__}: {error}", file=sys.stderr)
                raise
            # Jupyter itself failed mid-run (not the cell's code): still write what ran, naming the failure.
            traceback.print_exc(file=sys.stderr)
            outcome = {"ok": False, "failedCell": current["index"], "ename": type(error).__name__, "evalue": str(error).splitlines()[0] if str(error) else "", "timeout": False}
            break
    if not outcome["ok"]:
        ename, evalue = outcome["ename"], outcome["evalue"]
        outcome["message"] = evalue if evalue.startswith(ename) else f"{ename}: {evalue}"
        outcome["cells"] = len(nb.cells)
        outcome["cellId"] = nb.cells[outcome["failedCell"]].get("id")
        nb.cells.insert(0, banner(outcome))
    nbformat.write(nb, args.output)
    if args.html:
        export_html(nb, args.html)
    print(json.dumps(outcome))
    return 0 if outcome["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
