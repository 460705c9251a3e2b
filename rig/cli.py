"""The `rig` command. Each subcommand lives in ``rig.commands.<name>``.

Exit codes: 0 success, 1 runtime failure, 2 invalid input, 130 interrupted. Errors are one line
on stderr, never a traceback (set RIG_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading

from rig import __version__, _start_up_signal
from rig.core.errors import RunFailure, UserError

COMMAND_MODULES = (
    "run",
    "check",
    "summary",
    "analyze",
    "bench",
    "devices",
    "selftest",
    "schema",
    "recover",
    "export",
    "validate_sim",
    "report",
    "view",
    "ctl",
    "power",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print usage + exit 2; keep it one line
        raise UserError(f"{self.prog}: {message}")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand, or only of ``command`` when it names one (start-up: a
    command imports only what it uses, e.g. ``rig check`` never loads scipy or matplotlib)."""
    p = _Parser(prog="rig", description="LTP Rig: LTP/LTD experiments on an NI-DAQ rig or a simulated slice.")
    p.add_argument("--version", action="version", version=f"rig {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    mod = (command or "").replace("-", "_")
    for name in (mod,) if mod in COMMAND_MODULES else COMMAND_MODULES:
        importlib.import_module(f"rig.commands.{name}").register(sub)
    return p


_signalled: list[str] = []  # signals received during the command (an import may wrap the KeyboardInterrupt)


def _terminated(signum: int, frame: object) -> None:
    _signalled.append(signal.Signals(signum).name)
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    """Run one command. SIGTERM is handled from the first instruction on, like Ctrl-C: one line
    and exit 130 (a run installs its own handlers that stop it safely)."""
    main_thread = threading.current_thread() is threading.main_thread()
    _signalled.clear()
    old = signal.signal(signal.SIGTERM, _terminated) if main_thread else None
    as_command = old is _start_up_signal  # the `rig` process itself (rig/__init__ installed it)
    if as_command:
        signal.signal(signal.SIGINT, _terminated)  # Ctrl-C: KeyboardInterrupt again
    try:
        return _main(argv)
    finally:
        if as_command:  # the outcome is decided (file closed): a late signal must not change the exit code
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        elif main_thread:
            signal.signal(signal.SIGTERM, old)


def _main(argv: list[str] | None) -> int:
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        parser = build_parser(argv[0] if argv else None)
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return 2
        return int(args.func(args))
    except UserError as exc:
        print(f"rig: error: {exc}", file=sys.stderr)
        return 2
    except RunFailure as exc:
        print(f"rig: failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        print(f"rig: interrupted{f' by {exc}' if str(exc) else ''}: nothing more was done", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # noqa: BLE001 - last resort: one line, not a traceback
        if _signalled:  # e.g. numpy turns a KeyboardInterrupt inside its import into an ImportError
            print(f"rig: interrupted by {_signalled[0]}: nothing more was done", file=sys.stderr)
            return 130
        if os.environ.get("RIG_DEBUG"):
            raise
        print(f"rig: internal error: {type(exc).__name__}: {exc} (RIG_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
