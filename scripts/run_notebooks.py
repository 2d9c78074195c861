#!/usr/bin/python3
"""Run the project's notebooks headless on Deno's Jupyter kernel.

Run it with Debian's Python, which has nbclient and nbconvert (`bash scripts/setup.sh`):

    /usr/bin/python3 scripts/run_notebooks.py [--quick] [--timeout S] [--no-html] [NOTEBOOK ...]

Each notebook runs in a fresh kernel whose working directory is the notebook's folder, so
`../lib/...` imports and deno.json's import map work as they do in Jupyter. The executed copy
goes to `out/notebooks/<name>.ipynb` and an HTML export beside it.

Why not `jupyter nbconvert --execute`? Deno's kernel can send an output a few milliseconds
after it reports a cell idle, and stock nbclient then drops it. This runner keeps reading the
kernel's output channel for a short while after idle. It also kills the kernel on errors,
Ctrl-C and SIGTERM (and, on Linux, when the runner itself dies), so no kernel is orphaned.

Exit status: 0 when every notebook ran without errors and every cell tagged "chart" produced
an image; 1 otherwise; 2 for bad arguments or a missing set-up; 128+N after signal N.
"""

import argparse
import asyncio
import ctypes
import glob
import json
import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path
from queue import Empty

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_NOTEBOOKS = ROOT / "notebooks"
DEFAULT_OUT = ROOT / "out" / "notebooks"
SETUP_HINT = "run `bash scripts/setup.sh` to install it"

# Keep reading output this long after the kernel reports a cell idle; each late message
# extends the wait. With 0 s, 4 runs in 20 kept every output; with 0.05 s, 20 in 20.
LATE_OUTPUT_GRACE_S = 0.1
# Mime types that count as a chart for cells tagged "chart".
CHART_MIME_TYPES = ("image/svg+xml", "image/png")
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

try:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionComplete, CellTimeoutError, DeadKernelError
    from nbclient.util import ensure_async
    from jupyter_client.kernelspec import NoSuchKernel
except ImportError as import_error:  # pragma: no cover - depends on the machine
    print(
        f"run_notebooks: Jupyter's Python packages are missing ({import_error}); "
        f"{SETUP_HINT} and run this script with /usr/bin/python3",
        file=sys.stderr,
    )
    sys.exit(2)


class NotebookFailure(Exception):
    """A notebook failed: the message names the cell and the problem."""


class Interrupted(Exception):
    """The runner got SIGINT or SIGTERM."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def strip_ansi(text):
    """Remove terminal colour codes."""
    return ANSI_RE.sub("", text)


def kill_with_parent():
    """In the kernel's child process: ask Linux to kill it when the runner dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except Exception:
        pass


class LateOutputClient(NotebookClient):
    """An nbclient that does not drop outputs the kernel sends just after idle."""

    def __init__(self, nb, grace_s=LATE_OUTPUT_GRACE_S, **kw):
        super().__init__(nb, **kw)
        self.grace_s = grace_s
        # msg_id of every executed cell's request -> (cell, index): late outputs of an
        # earlier cell that arrive while a later one runs still go to the right cell.
        self.cell_of_msg = {}

    def _route(self, msg, current_parent):
        """Process msg for the cell it belongs to; True when it is current_parent's idle."""
        parent = msg["parent_header"].get("msg_id")
        target = self.cell_of_msg.get(parent)
        if target is None:
            return False
        cell, index = target
        try:
            self.process_message(msg, cell, index)
        except CellExecutionComplete:
            return parent == current_parent
        return False

    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        assert self.kc is not None
        self.cell_of_msg[parent_msg_id] = (cell, cell_index)
        while True:
            msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=None))
            if self._route(msg, parent_msg_id):
                break
        await self.drain_late_output()

    async def drain_late_output(self):
        """Read output for grace_s more seconds, extended by each message that arrives."""
        assert self.kc is not None
        deadline = time.monotonic() + self.grace_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=remaining))
            except Empty:
                return
            self._route(msg, None)
            deadline = time.monotonic() + self.grace_s


def cell_label(cell, index):
    """`cell 3 (first line of its source)`."""
    first = next((ln.strip() for ln in cell.source.splitlines() if ln.strip()), "")
    if len(first) > 60:
        first = first[:57] + "..."
    return f"cell {index} ({first})" if first else f"cell {index}"


def error_text(cell):
    """The error output of a cell, without colour codes."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            trace = "\n".join(out.get("traceback") or [])
            head = f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"
            text = strip_ansi(trace) if trace.strip() else head
            return text if head.strip(": ") in text else f"{head}\n{text}"
    return ""


def check_charts(nb, name):
    """Failure messages for cells tagged "chart" that displayed no image."""
    problems = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "chart" not in cell.metadata.get("tags", []):
            continue
        has_image = any(
            mime in out.get("data", {})
            for out in cell.get("outputs", [])
            for mime in CHART_MIME_TYPES
        )
        if not has_image:
            problems.append(
                f"{name}: {cell_label(cell, index)} is tagged \"chart\" but displayed no "
                "image/svg+xml or image/png output; display a chart in it or remove the tag"
            )
    return problems


def write_atomic(path, text):
    """Write text to path through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def kernel_log_tail(log_path, lines=20):
    """The last lines the kernel printed, minus Deno's 'unstable' banner."""
    try:
        text = strip_ansi(Path(log_path).read_text(errors="replace"))
    except OSError:
        return ""
    kept = [ln for ln in text.splitlines() if ln.strip() and "is unstable" not in ln]
    return "\n".join(kept[-lines:])


class Runner:
    """Runs notebooks one after another, each in its own kernel."""

    def __init__(self, args):
        self.args = args
        self.client = None
        self.signum = None

    def kernel_env(self):
        env = dict(os.environ)
        env["NO_COLOR"] = "1"
        env.pop("FORCE_COLOR", None)
        if self.args.quick:
            env["GAN_QUICK"] = "1"
        return env

    async def run_one(self, path):
        """Execute one notebook; returns (nb, error message or None)."""
        nb = nbformat.read(path, as_version=4)
        kernel_name = nb.metadata.get("kernelspec", {}).get("name") or "deno"
        client = LateOutputClient(
            nb,
            grace_s=self.args.late_output_ms / 1000,
            timeout=self.args.timeout if self.args.timeout > 0 else None,
            kernel_name=kernel_name,
            startup_timeout=60,
            iopub_timeout=10,
            shutdown_kernel="graceful",
            record_timing=False,
            resources={"metadata": {"path": str(path.parent)}},
        )
        self.client = client
        log_fd, log_path = tempfile.mkstemp(prefix="deno-kernel-", suffix=".log")
        failure = None
        try:
            client.km = client.create_kernel_manager()
            client.km.shutdown_wait_time = 2.0
            with os.fdopen(log_fd, "w") as log:
                await client.async_start_new_kernel(
                    cwd=str(path.parent),
                    env=self.kernel_env(),
                    stdout=log,
                    stderr=log,
                    preexec_fn=kill_with_parent,
                )
            await client.async_start_new_kernel_client()
            for index, cell in enumerate(nb.cells):
                if self.signum is not None:
                    raise Interrupted(self.signum)
                try:
                    await client.async_execute_cell(
                        cell, index, execution_count=client.code_cells_executed + 1
                    )
                except CellTimeoutError:
                    failure = (
                        f"{cell_label(cell, index)} ran longer than {self.args.timeout} s; "
                        "raise --timeout or make the cell faster"
                    )
                    break
                except DeadKernelError:
                    if self.signum is not None:
                        raise Interrupted(self.signum)
                    tail = kernel_log_tail(log_path)
                    failure = f"the kernel died in {cell_label(cell, index)}" + (
                        f"; it printed:\n{tail}" if tail else ""
                    )
                    break
                except Exception as e:
                    if type(e).__name__ != "CellExecutionError":
                        raise
                    text = error_text(cell) or strip_ansi(str(e))
                    failure = f"{cell_label(cell, index)} raised an error:\n{text}"
                    break
            else:
                await client.drain_late_output()
        except NoSuchKernel:
            failure = (
                f'the Jupyter kernel "{kernel_name}" is not installed; '
                "run `deno jupyter --install --force` or `bash scripts/setup.sh`"
            )
        except (RuntimeError, TimeoutError) as e:
            if self.signum is not None:
                raise Interrupted(self.signum)
            tail = kernel_log_tail(log_path)
            failure = f"the kernel failed: {e}" + (f"; it printed:\n{tail}" if tail else "")
        finally:
            await self.stop_kernel()
            Path(log_path).unlink(missing_ok=True)
        return nb, failure

    async def stop_kernel(self):
        """Shut the kernel down (killing it if it does not stop) and close the channels."""
        client, self.client = self.client, None
        if client is None:
            return
        km, kc = client.km, client.kc
        try:
            if km is not None and km.has_kernel:
                now = self.signum is not None
                await ensure_async(km.shutdown_kernel(now=now))
        except Exception:
            try:
                if km is not None and km.has_kernel:
                    await ensure_async(km.provisioner.kill())
            except Exception:
                pass
        finally:
            if kc is not None:
                kc.stop_channels()
            if km is not None:
                try:
                    await ensure_async(km.cleanup_resources())
                except Exception:
                    pass
            client.kc = None
            client.km = None

    def save(self, nb, name):
        out_dir = self.args.out
        write_atomic(out_dir / f"{name}.ipynb", nbformat.writes(nb))
        if self.args.html:
            from nbconvert import HTMLExporter

            body, _ = HTMLExporter().from_notebook_node(nb)
            write_atomic(out_dir / f"{name}.html", body)

    async def run_all(self, paths):
        results = []
        for path in paths:
            name = path.stem
            start = time.monotonic()
            nb, failure = await self.run_one(path)
            problems = [f"{name}: {failure}"] if failure else check_charts(nb, name)
            try:
                self.save(nb, name)
            except Exception as e:
                problems.append(f"{name}: could not save the executed notebook: {e}")
            seconds = time.monotonic() - start
            ok = not problems
            results.append(
                {"name": name, "path": str(path), "ok": ok, "seconds": round(seconds, 2),
                 "errors": problems}
            )
            status = "ok" if ok else "FAILED"
            print(f"{name}: {status} in {seconds:.1f} s", flush=True)
            for p in problems:
                print(f"  {p}".replace("\n", "\n  "), file=sys.stderr, flush=True)
        return results


def resolve_notebooks(names):
    """Paths of the notebooks to run: paths, names or name prefixes in notebooks/."""
    if not names:
        paths = sorted(Path(p) for p in glob.glob(str(DEFAULT_NOTEBOOKS / "*.ipynb")))
        if not paths:
            raise SystemExit(f"run_notebooks: no notebooks in {DEFAULT_NOTEBOOKS}")
        return [p.resolve() for p in paths]
    paths = []
    for name in names:
        direct = Path(name)
        candidates = [direct, DEFAULT_NOTEBOOKS / name, DEFAULT_NOTEBOOKS / f"{name}.ipynb"]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            matches = sorted(DEFAULT_NOTEBOOKS.glob(f"{glob.escape(name)}*.ipynb"))
            if len(matches) == 1:
                found = matches[0]
            elif matches:
                listed = ", ".join(m.stem for m in matches)
                raise SystemExit(
                    f"run_notebooks: {name!r} matches several notebooks ({listed}); "
                    "give more of the name"
                )
            else:
                raise SystemExit(
                    f"run_notebooks: no notebook {name!r}; give a path or a name in "
                    f"{DEFAULT_NOTEBOOKS}"
                )
        paths.append(found.resolve())
    return paths


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Run notebooks headless on Deno's Jupyter kernel and save executed "
        "copies and HTML exports.",
    )
    p.add_argument(
        "notebooks", nargs="*",
        help="notebook paths, names or name prefixes in notebooks/ (default: all)",
    )
    p.add_argument("--quick", action="store_true", help="set GAN_QUICK=1 for the kernel")
    p.add_argument(
        "--timeout", type=int, default=0,
        help="seconds one cell may run before it fails (default 0: no limit)",
    )
    p.add_argument("--no-html", dest="html", action="store_false", help="skip the HTML export")
    p.add_argument(
        "--out", type=Path, default=DEFAULT_OUT,
        help=f"folder for executed notebooks and HTML (default {DEFAULT_OUT.relative_to(ROOT)})",
    )
    p.add_argument("--report", type=Path, help="also write the results as JSON to this file")
    p.add_argument(
        "--late-output-ms", type=float, default=LATE_OUTPUT_GRACE_S * 1000,
        help="how long to keep reading output after a cell reports idle (default %(default)g)",
    )
    return p.parse_args(argv)


async def main_async(args, paths):
    runner = Runner(args)
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def on_signal(signum):
        if runner.signum is None:
            runner.signum = signum
            task.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        return await runner.run_all(paths)
    except (asyncio.CancelledError, Interrupted):
        await runner.stop_kernel()
        raise Interrupted(runner.signum or signal.SIGINT)
    finally:
        await runner.stop_kernel()


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    args.out = args.out.resolve()
    paths = resolve_notebooks(args.notebooks)
    try:
        results = asyncio.run(main_async(args, paths))
    except Interrupted as e:
        print(f"run_notebooks: stopped by {e}; the kernel was shut down", file=sys.stderr)
        return 128 + e.signum
    if args.report:
        write_atomic(args.report, json.dumps({"notebooks": results}, indent=1) + "\n")
    failed = [r["name"] for r in results if not r["ok"]]
    if len(results) > 1:
        print(f"{len(results) - len(failed)} of {len(results)} notebooks ok"
              + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
