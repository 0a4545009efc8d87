"""``make bench``: every benchmark, each printing its figures beside a baseline from the same run.

``python -m bench fanout`` or ``python -m bench clips`` runs one of them.
"""

import sys

from bench import clips, fanout

BENCHMARKS = {"fanout": fanout.main, "clips": clips.main}

for name in sys.argv[1:] or list(BENCHMARKS):
    BENCHMARKS[name]()
