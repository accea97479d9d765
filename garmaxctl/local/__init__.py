"""LOCAL: the embedded AWS emulator and the platform garmaxctl runs around it.

- :mod:`.supervisor`: the emulator process seen from outside — state file, pid checks,
  probe, status, ``require_running``, detached start, stop, logs; the detached
  process's entry point (``python -m garmaxctl.local.supervisor serve``). Standard
  library only at import time.
- :mod:`.server`: the serving process — moto's ``ThreadedMotoServer`` with the bridges
  installed first, the platform beside it, the state file; ``reset``.
- :mod:`.bridges`: what moto 5.2.5 lacks or gets wrong for the LOCAL stack (docs/local.md).
- :mod:`.platform`: gateway + workers + stack watcher, composed
  (:mod:`.gateway`, :mod:`.workers`, :mod:`.watcher`).
- :mod:`.workflow`: ``local up`` (detached and foreground) and ``local reset``; the only
  module here that calls a service (the CDK deploy).

Product code (services) reaches LOCAL only through :mod:`garmaxctl.stage.local`; nothing
outside this package imports moto. Importing this package imports nothing.
"""
