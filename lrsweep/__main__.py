"""``python -m lrsweep``: the same as the ``lrsweep`` command."""

from lrsweep.cli import main

main()
