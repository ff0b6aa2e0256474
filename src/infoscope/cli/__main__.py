"""``python -m infoscope.cli``: the same command line as ``infoscope``."""

import sys

from . import main

sys.exit(main())
