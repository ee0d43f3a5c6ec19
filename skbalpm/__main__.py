"""``python -m skbalpm``: the same as the ``skbalpm`` command."""

import sys

from skbalpm.cli import main

if __name__ == "__main__":
    sys.exit(main())
