"""``python -m garmaxctl``."""

from garmaxctl.app import main

main()
