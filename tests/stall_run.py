"""`rig run` with the simulated board stalled once: ``python -m tests.stall_run AT_S STALL_S ARGS…``.

From experiment time ``AT_S`` the device loses ``STALL_S`` seconds of samples, as a real board
does when the program stalls longer than its host buffer (NI −200279): the outputs written ahead
are delivered, whatever was due after them cannot be. Everything else is the real command line.
"""

from __future__ import annotations

import sys

from drivers.base import Block
from drivers.sim.device import SimDevice
from rig import cli


def main(argv: list[str]) -> int:
    at_s, stall_s, args = float(argv[0]), float(argv[1]), argv[2:]
    real_read = SimDevice.read
    state = {"stalled": False}

    def read(self: SimDevice) -> Block:
        if state["stalled"] or self._pos < at_s * self.sample_rate_hz:
            return real_read(self)
        state["stalled"] = True
        lost = int(stall_s * self.sample_rate_hz)
        self._acquire(self._pos, lost)  # the slice lives on; those samples never reach the program
        blk = real_read(self)
        return Block(blk.start, blk.data, gap=lost)

    SimDevice.read = read
    SimDevice.max_read_blocks = property(lambda self: 1)  # every read goes through the stall above
    return cli.main(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
