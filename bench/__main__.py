"""``make bench``: every benchmark, each printing its figures beside a baseline from the same run.

``python -m bench fanout``, ``python -m bench stalled`` or ``python -m bench clips`` runs one.
"""

import sys

from bench import clips, fanout, stalled

BENCHMARKS = {"fanout": fanout.main, "stalled": stalled.main, "clips": clips.main}

for name in sys.argv[1:] or list(BENCHMARKS):
    BENCHMARKS[name]()
