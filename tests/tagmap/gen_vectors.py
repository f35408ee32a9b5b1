#!/usr/bin/env python3
"""Writes the shared annotation-map test vectors, tests/vectors/tagmap/<topic>.json.

The vectors are the contract between the C annotation map (proto/tagmap.c, run
by tests/tagmap/test_tagmap_vectors.c) and the TypeScript one
(frontend/src/tagmap.ts). Each vector below states its expected final map by
hand, in pages; this script checks every hand-written expectation against an
obviously-correct interval model (built from the definition of each operation
in proto/PROTOCOL.md section 3) before it writes anything, so a typo in an
expectation cannot become part of the contract.

Usage: python3 tests/tagmap/gen_vectors.py [OUTDIR]   (default: tests/vectors/tagmap)

Format (one file per topic):
  {"vectors": [{"name", "description", "initial": [[start, end, value]...],
                "ops": [{"op": "set", "start", "end", "value"},
                        {"op": "remove", "start", "end"},
                        {"op": "remap", "from_start", "from_end", "to_start", "to_end"},
                        {"op": "clear"}],
                "expected": [[start, end, value]...]}]}
Addresses are bytes (JSON numbers, page aligned, below 2^53), values uint32.
`initial` is applied as a sequence of sets, in order; `expected` is the full
sorted, non-overlapping list with adjacent equal values merged.
"""

import json
import os
import sys

PAGE = 4096
U32 = 0xFFFFFFFF
TOP = (1 << 53) // PAGE - 1  # highest end page: every address stays below 2^53
STACK = 0x7FFFFFFDE000 // PAGE


# --- the model: a list of disjoint (start, end, value), in pages -------------


def norm(m):
    m = sorted(m)
    out = []
    for s, e, v in m:
        assert s < e
        if out and out[-1][1] > s:
            raise AssertionError("overlap in model")
        if out and out[-1][1] == s and out[-1][2] == v:
            out[-1] = (out[-1][0], e, v)
        else:
            out.append((s, e, v))
    return out


def cut(m, a, b):
    out = []
    for s, e, v in m:
        if e <= a or s >= b:
            out.append((s, e, v))
            continue
        if s < a:
            out.append((s, a, v))
        if e > b:
            out.append((b, e, v))
    return out


def apply(m, op):
    k = op["op"]
    if k == "set":
        return norm(cut(m, op["start"], op["end"]) + [(op["start"], op["end"], op["value"])])
    if k == "remove":
        return norm(cut(m, op["start"], op["end"]))
    if k == "clear":
        return []
    if k == "remap":
        fa, fb, ta, tb = op["from_start"], op["from_end"], op["to_start"], op["to_end"]
        keep = min(fb - fa, tb - ta)
        moved = [(max(s, fa) - fa + ta, min(e, fa + keep) - fa + ta, v)
                 for s, e, v in m if s < fa + keep and e > fa]
        return norm(cut(cut(m, fa, fb), ta, tb) + moved)
    raise ValueError(k)


# --- vector helpers (pages) --------------------------------------------------


def o_set(a, b, v):
    return {"op": "set", "start": a, "end": b, "value": v}


def o_rm(a, b):
    return {"op": "remove", "start": a, "end": b}


def o_remap(fa, fb, ta, tb):
    return {"op": "remap", "from_start": fa, "from_end": fb, "to_start": ta, "to_end": tb}


def o_clear():
    return {"op": "clear"}


def V(name, desc, initial, ops, expected):
    return {"name": name, "description": desc, "initial": initial, "ops": ops,
            "expected": expected}


TOPICS = {}

TOPICS["set"] = [
    V("set_into_empty", "one set into an empty map", [], [o_set(16, 20, 7)], [(16, 20, 7)]),
    V("set_disjoint_sorted", "sets out of order come out sorted", [],
      [o_set(40, 48, 2), o_set(16, 20, 1), o_set(30, 31, 3)],
      [(16, 20, 1), (30, 31, 3), (40, 48, 2)]),
    V("set_replace_exact", "a set over exactly one range replaces its value",
      [(16, 32, 1)], [o_set(16, 32, 2)], [(16, 32, 2)]),
    V("set_split_middle", "a set in the middle of a range splits it in three",
      [(16, 32, 1)], [o_set(20, 24, 2)], [(16, 20, 1), (20, 24, 2), (24, 32, 1)]),
    V("set_overlap_left", "a set over the left part of a range",
      [(16, 32, 1)], [o_set(8, 20, 2)], [(8, 20, 2), (20, 32, 1)]),
    V("set_overlap_right", "a set over the right part of a range",
      [(16, 32, 1)], [o_set(28, 40, 2)], [(16, 28, 1), (28, 40, 2)]),
    V("set_covers_many", "a set covering several ranges and holes replaces them all",
      [(16, 20, 1), (24, 28, 2), (30, 32, 3), (40, 44, 4)], [o_set(18, 42, 9)],
      [(16, 18, 1), (18, 42, 9), (42, 44, 4)]),
    V("set_fills_hole", "a set exactly filling a hole between two different values",
      [(16, 20, 1), (24, 28, 2)], [o_set(20, 24, 3)], [(16, 20, 1), (20, 24, 3), (24, 28, 2)]),
    V("set_same_value_inside", "setting a sub-range to the value it already has changes nothing",
      [(16, 32, 5)], [o_set(20, 24, 5)], [(16, 32, 5)]),
    V("set_value_zero", "0 is an ordinary value, not 'no value'",
      [(16, 32, 1)], [o_set(20, 24, 0)], [(16, 20, 1), (20, 24, 0), (24, 32, 1)]),
]

TOPICS["merge"] = [
    V("merge_left_neighbour", "a set adjacent to an equal range on its left merges",
      [(16, 20, 1)], [o_set(20, 24, 1)], [(16, 24, 1)]),
    V("merge_right_neighbour", "a set adjacent to an equal range on its right merges",
      [(20, 24, 1)], [o_set(16, 20, 1)], [(16, 24, 1)]),
    V("merge_both_neighbours", "filling a hole between two equal ranges gives one range",
      [(16, 20, 1), (24, 28, 1)], [o_set(20, 24, 1)], [(16, 28, 1)]),
    V("merge_not_different", "adjacent ranges of different values stay apart",
      [(16, 20, 1)], [o_set(20, 24, 2)], [(16, 20, 1), (20, 24, 2)]),
    V("merge_not_across_hole", "equal values separated by a hole stay apart",
      [(16, 20, 1)], [o_set(21, 24, 1)], [(16, 20, 1), (21, 24, 1)]),
    V("merge_after_overwrite", "overwriting the odd middle range makes one range",
      [(16, 20, 1), (20, 24, 2), (24, 28, 1)], [o_set(20, 24, 1)], [(16, 28, 1)]),
    V("merge_initial_sequence", "initial sets of adjacent equal values come out merged",
      [(16, 20, 3), (20, 24, 3), (24, 28, 3)], [], [(16, 28, 3)]),
    V("merge_partial_overlap_equal", "a set overlapping an equal range merges with it",
      [(16, 24, 4)], [o_set(20, 32, 4)], [(16, 32, 4)]),
    V("merge_after_remap", "a moved range merges with an equal neighbour at its destination",
      [(16, 20, 1), (40, 44, 1)], [o_remap(40, 44, 20, 24)], [(16, 24, 1)]),
    V("merge_after_remove_no", "removing the middle of a range never merges the parts",
      [(16, 32, 1)], [o_rm(20, 24)], [(16, 20, 1), (24, 32, 1)]),
]

TOPICS["remove"] = [
    V("remove_nothing_empty", "removing from an empty map is fine", [], [o_rm(16, 20)], []),
    V("remove_hole", "removing a hole changes nothing",
      [(16, 20, 1), (24, 28, 2)], [o_rm(20, 24)], [(16, 20, 1), (24, 28, 2)]),
    V("remove_exact", "removing exactly one range", [(16, 20, 1), (24, 28, 2)], [o_rm(16, 20)],
      [(24, 28, 2)]),
    V("remove_middle_split", "removing the middle of a range splits it",
      [(16, 32, 1)], [o_rm(20, 24)], [(16, 20, 1), (24, 32, 1)]),
    V("remove_left_part", "removing the left part of a range", [(16, 32, 1)], [o_rm(8, 20)],
      [(20, 32, 1)]),
    V("remove_right_part", "removing the right part of a range", [(16, 32, 1)], [o_rm(28, 40)],
      [(16, 28, 1)]),
    V("remove_across", "removing across several ranges clips both ends",
      [(16, 20, 1), (20, 24, 2), (26, 28, 3), (30, 40, 4)], [o_rm(18, 34)],
      [(16, 18, 1), (34, 40, 4)]),
    V("remove_everything", "removing a superset of all ranges leaves the map empty",
      [(16, 20, 1), (30, 40, 2)], [o_rm(0, 100)], []),
    V("remove_adjacent_touching", "a remove that only touches ranges at their edges keeps them",
      [(16, 20, 1), (24, 28, 2)], [o_rm(20, 24)], [(16, 20, 1), (24, 28, 2)]),
]

TOPICS["remap"] = [
    V("remap_move", "a range moves to a free place with its value",
      [(16, 20, 1)], [o_remap(16, 20, 100, 104)], [(100, 104, 1)]),
    V("remap_move_mixed", "a range with several values and holes moves as it was",
      [(16, 18, 1), (19, 20, 2)], [o_remap(16, 20, 100, 104)], [(100, 102, 1), (103, 104, 2)]),
    V("remap_grow_in_place", "growing in place: the grown tail has no value",
      [(16, 20, 1)], [o_remap(16, 20, 16, 24)], [(16, 20, 1)]),
    V("remap_grow_over_existing", "a grown tail replaces what was there and has no value",
      [(16, 20, 1), (20, 24, 2)], [o_remap(16, 20, 16, 24)], [(16, 20, 1)]),
    V("remap_shrink_in_place", "shrinking in place drops the tail",
      [(16, 24, 1)], [o_remap(16, 24, 16, 20)], [(16, 20, 1)]),
    V("remap_shrink_move", "shrink and move: only the first new_len bytes travel",
      [(16, 20, 1), (20, 24, 2)], [o_remap(16, 24, 100, 104)], [(100, 104, 1)]),
    V("remap_grow_move", "grow and move: the moved part keeps its value, the tail has none",
      [(16, 20, 1)], [o_remap(16, 20, 100, 108)], [(100, 104, 1)]),
    V("remap_overwrite_destination", "the destination's old values are replaced, also in holes",
      [(16, 18, 1), (100, 110, 2)], [o_remap(16, 20, 100, 104)],
      [(100, 102, 1), (104, 110, 2)]),
    V("remap_overlap_forward", "moving up by less than the length (overlapping ranges)",
      [(16, 18, 1), (18, 24, 2)], [o_remap(16, 24, 20, 28)], [(20, 22, 1), (22, 28, 2)]),
    V("remap_overlap_backward", "moving down by less than the length (overlapping ranges)",
      [(16, 18, 1), (18, 24, 2), (24, 26, 3)], [o_remap(20, 26, 14, 20)],
      [(14, 18, 2), (18, 20, 3)]),
    V("remap_from_hole", "moving an unannotated range clears the destination",
      [(100, 104, 1)], [o_remap(16, 20, 100, 104)], []),
    V("remap_keeps_outside", "ranges outside both old and new are untouched",
      [(8, 12, 9), (16, 20, 1), (50, 60, 8)], [o_remap(16, 20, 30, 34)],
      [(8, 12, 9), (30, 34, 1), (50, 60, 8)]),
    V("remap_partial_source", "moving part of a range leaves the rest",
      [(16, 32, 1)], [o_remap(20, 24, 100, 104)], [(16, 20, 1), (24, 32, 1), (100, 104, 1)]),
    V("remap_merges_back", "moving a piece back next to its original range merges",
      [(16, 20, 1), (100, 104, 1)], [o_remap(100, 104, 20, 24)], [(16, 24, 1)]),
    V("remap_shrink_into_self", "shrink in place on a map with values beyond",
      [(16, 24, 1), (24, 28, 2)], [o_remap(16, 28, 16, 22)], [(16, 22, 1)]),
    V("remap_grow_overlap_start_below", "move to a lower, overlapping address and grow",
      [(20, 24, 1)], [o_remap(20, 24, 18, 30)], [(18, 22, 1)]),
]

TOPICS["clear"] = [
    V("clear_empty", "clearing an empty map", [], [o_clear()], []),
    V("clear_all", "clear removes everything", [(16, 20, 1), (30, 40, 2)], [o_clear()], []),
    V("clear_then_set", "a map is usable after clear", [(16, 20, 1)],
      [o_clear(), o_set(30, 31, 2)], [(30, 31, 2)]),
    V("clear_twice", "two clears in a row", [(16, 20, 1)], [o_clear(), o_clear()], []),
    V("sequence_exec_like", "map, annotate, clear (exec), annotate again",
      [(16, 20, 1), (20, 24, 2)], [o_rm(16, 18), o_clear(), o_set(16, 24, 2), o_set(20, 24, 3)],
      [(16, 20, 2), (20, 24, 3)]),
]

TOPICS["edge"] = [
    V("edge_max_value", "the largest uint32 value", [], [o_set(16, 20, U32)], [(16, 20, U32)]),
    V("edge_max_value_merge", "the largest value merges like any other",
      [(16, 20, U32)], [o_set(20, 24, U32)], [(16, 24, U32)]),
    V("edge_max_min_values_apart", "0 and 2^32-1 side by side stay apart",
      [], [o_set(16, 20, 0), o_set(20, 24, U32)], [(16, 20, 0), (20, 24, U32)]),
    V("edge_address_zero", "a range starting at address 0", [], [o_set(0, 1, 4)], [(0, 1, 4)]),
    V("edge_top_address", "a range ending just below 2^53",
      [], [o_set(TOP - 16, TOP, 4)], [(TOP - 16, TOP, 4)]),
    V("edge_huge_range", "one range from 0 to just below 2^53, split in the middle",
      [(0, TOP, 1)], [o_set(STACK, STACK + 1, 2)],
      [(0, STACK, 1), (STACK, STACK + 1, 2), (STACK + 1, TOP, 1)]),
    V("edge_remap_to_top", "a move to the top of the address space",
      [(16, 20, 7)], [o_remap(16, 20, TOP - 4, TOP)], [(TOP - 4, TOP, 7)]),
    V("edge_single_pages", "many one-page ranges of alternating values",
      [], [o_set(i, i + 1, i % 2) for i in range(16, 26)],
      [(i, i + 1, i % 2) for i in range(16, 26)]),
    V("edge_single_pages_merge", "one set over alternating pages merges them into one",
      [(i, i + 1, i % 2) for i in range(16, 26)], [o_set(17, 26, 0)], [(16, 26, 0)]),
    V("edge_remove_nothing_beyond", "removing beyond the last range changes nothing",
      [(16, 20, 1)], [o_rm(TOP - 1, TOP)], [(16, 20, 1)]),
    V("edge_remap_identity", "a remap onto itself changes nothing",
      [(16, 18, 1), (18, 20, 2)], [o_remap(16, 20, 16, 20)], [(16, 18, 1), (18, 20, 2)]),
    V("edge_remap_dest_inside_source", "shrinking to the middle of the source",
      [(16, 18, 1), (18, 20, 2), (20, 24, 3)], [o_remap(16, 24, 18, 20)], [(18, 20, 1)]),
]


def to_bytes(rs):
    return [[s * PAGE, e * PAGE, v] for s, e, v in rs]


def op_bytes(op):
    out = {}
    for k, v in op.items():
        out[k] = v * PAGE if k not in ("op", "value") else v
    return out


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "vectors", "tagmap")
    os.makedirs(outdir, exist_ok=True)
    names = set()
    total = 0
    for topic, vecs in TOPICS.items():
        out = []
        for v in vecs:
            assert v["name"] not in names, v["name"]
            names.add(v["name"])
            m = []
            for s, e, val in v["initial"]:
                m = apply(m, o_set(s, e, val))
            for op in v["ops"]:
                m = apply(m, op)
            exp = [tuple(x) for x in v["expected"]]
            if m != exp:
                sys.exit("%s: expected %r, the model says %r" % (v["name"], exp, m))
            for s, e, val in exp:
                assert 0 <= val <= U32 and e * PAGE < (1 << 53)
            out.append({"name": v["name"], "description": v["description"],
                        "initial": to_bytes(v["initial"]),
                        "ops": [op_bytes(o) for o in v["ops"]],
                        "expected": to_bytes(exp)})
        total += len(out)
        path = os.path.join(outdir, topic + ".json")
        with open(path, "w") as f:
            f.write('{"vectors": [\n')
            for i, v in enumerate(out):
                f.write("  " + json.dumps(v) + (",\n" if i + 1 < len(out) else "\n"))
            f.write("]}\n")
    print("%d vectors in %d files in %s" % (total, len(TOPICS), outdir))


if __name__ == "__main__":
    main()
