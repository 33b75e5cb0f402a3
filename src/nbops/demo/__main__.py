"""``python -m nbops.demo [DIRECTORY]``."""

import sys

from nbops.demo import main

sys.exit(main(*sys.argv[1:]))
