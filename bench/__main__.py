"""``make bench``: every benchmark, each printing its figures beside a baseline from the same run."""

from bench.fanout import main

main()
