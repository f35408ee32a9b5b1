#!/usr/bin/env python3
"""The include graph of daemon/ has no cycle.

A module is a .c/.h pair (daemon/session.c + daemon/session.h = "session").
Module A depends on module B when A's .c or .h includes "B.h". A cycle
(eventlog.c including session.h while session.c includes eventlog.h) means
neither can be understood, tested or replaced without the other.

Usage: check_include_graph.py [DAEMON_DIR]; prints the modules in
dependency order (each after what it includes), or the cycle, exit 1.
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)\.h"', re.M)


def graph(root):
    mods = {}
    for name in sorted(os.listdir(root)):
        stem, ext = os.path.splitext(name)
        if ext not in ('.c', '.h'):
            continue
        with open(os.path.join(root, name), encoding='utf-8') as f:
            deps = set(INCLUDE.findall(f.read()))
        mods.setdefault(stem, set()).update(deps)
    for stem, deps in mods.items():
        deps.discard(stem)
        deps.intersection_update(mods)  # proto/ and system headers are leaves
    return mods


def order(mods):
    """Topological order, or raises ValueError with a cycle."""
    done, path, out = set(), [], []

    def visit(m):
        if m in done:
            return
        if m in path:
            cycle = path[path.index(m):] + [m]
            raise ValueError(' -> '.join(cycle))
        path.append(m)
        for d in sorted(mods[m]):
            visit(d)
        path.pop()
        done.add(m)
        out.append(m)

    for m in sorted(mods):
        visit(m)
    return out


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), '..', '..', 'daemon')
    mods = graph(root)
    try:
        seq = order(mods)
    except ValueError as e:
        print(f'include cycle in {root}: {e}')
        return 1
    for m in seq:
        print(f'{m}: {" ".join(sorted(mods[m])) or "-"}')
    print(f'{len(seq)} modules, no include cycle')
    return 0


if __name__ == '__main__':
    sys.exit(main())
