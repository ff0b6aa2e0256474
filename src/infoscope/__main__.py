"""``python -m infoscope``: the same command line as ``infoscope``."""

import sys

from .cli import main

sys.exit(main())
