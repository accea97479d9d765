"""Serve a bridged moto emulator for the end-to-end tests: ``python serve_bridged.py PORT``.

Stands in for ``garmaxctl/local/server.py`` (another module's job): calls
``install_bridges()`` first, then starts ``ThreadedMotoServer`` on ``localhost:PORT``,
prints one ``ready`` line and serves until terminated.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading


def main() -> None:
    port = int(sys.argv[1])
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from moto.server import ThreadedMotoServer

    from garmaxctl.local.bridges import install_bridges

    bridges = install_bridges()
    server = ThreadedMotoServer(ip_address="localhost", port=port, verbose=False)
    server.start()
    print(f"ready {port} bridges={len(bridges)}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
