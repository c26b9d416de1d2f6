"""App-level import graph: how many imports each app makes of each other app, and the cycles.

Run from the project root: `.venv/bin/python tests/import_graph.py kam accounts integrations profiles plans scoring
dataio workspace audit demo`. Counts module-level and function-local imports alike (grimp)."""

import itertools
import sys

import grimp

sys.path.insert(0, ".")
pkgs = list(sys.argv[1:])
g = grimp.build_graph(*pkgs, include_external_packages=False)
edges = {}
for a, b in itertools.permutations(pkgs, 2):
    n = 0
    for mod in g.find_descendants(a) | {a}:
        for imp in g.find_modules_directly_imported_by(mod):
            if imp == b or imp.startswith(b + "."):
                n += 1
    if n:
        edges[(a, b)] = n
for (a, b), n in sorted(edges.items()):
    back = edges.get((b, a))
    print(f"{a} -> {b}: {n}" + (f"   (cycle: {b} -> {a}: {back})" if back else ""))
