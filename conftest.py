"""Repository-level pytest set-up: skip doctest collection of optional integrations whose extra is missing."""

import importlib.util

collect_ignore_glob = []
if importlib.util.find_spec("lightning") is None:
    collect_ignore_glob.append("src/infoscope/integrations/lightning.py")
