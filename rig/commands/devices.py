"""`rig devices [--json]`: the NI-DAQmx devices on this computer (or: driver not installed)."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("devices", help="list NI-DAQmx devices (product, channels, max AI rate)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from drivers.nidaq.discovery import format_devices, list_devices

    info = list_devices()
    print(json.dumps(info) if args.json else format_devices(info))
    return 0
