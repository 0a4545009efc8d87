"""``make bench``: every benchmark, each printing its figures beside a baseline from the same run.

``python -m bench fanout`` (or ``stalled``, ``live``, ``clips``, ``push``, ``analytics``,
``callbacks``) runs one of them.
"""

import sys

from bench import analytics, callbacks, clips, fanout, live, push, stalled

BENCHMARKS = {
    "fanout": fanout.main,
    "stalled": stalled.main,
    "live": live.main,
    "clips": clips.main,
    "push": push.main,
    "analytics": analytics.main,
    "callbacks": callbacks.main,
}

for name in sys.argv[1:] or list(BENCHMARKS):
    BENCHMARKS[name]()
