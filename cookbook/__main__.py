"""``python -m cookbook``: the same as the ``cookbook`` command."""

from cookbook.cli import main

main()
