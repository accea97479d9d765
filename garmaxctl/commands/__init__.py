"""Command modules: thin — parse options, call one service, return what to render.

Each module defines plain functions; ``garmaxctl.registry`` names them, and
``garmaxctl.cli`` turns them into commands when they run. A command function returns an
:class:`garmaxctl.output.Outcome` (or nothing); ``garmaxctl.app`` renders it and derives
the exit code. What the modules share (global options, confirmation) is in
``garmaxctl.cli``.
"""
