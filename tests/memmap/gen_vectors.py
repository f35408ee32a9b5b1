#!/usr/bin/env python3
"""Writes the shared memory-map test vectors, tests/vectors/<topic>.json.

The vectors are the contract between the C model (proto/memmap.c, run by
tests/memmap/test_vectors.c) and the TypeScript model (frontend/src/memmap.ts,
run by frontend/tests/memmap.test.ts). Each vector below states its expected
final map by hand, in pages; this script checks every hand-written expectation
against an obviously-correct page-by-page model before it writes anything, so a
typo in an expectation cannot become part of the contract.

Usage: python3 tests/memmap/gen_vectors.py [OUTDIR]   (default: tests/vectors)

Format (one file per topic):
  {"vectors": [{"name", "description", "initial": [[start, end, state]...],
                "ops": [{"op": "set"|"update", "start", "end", "state"},
                        {"op": "remove", "start", "end"},
                        {"op": "remap", "from_start", "from_end", "to_start", "to_end"},
                        {"op": "clear"}, ... each optionally "error": "EINVAL"],
                "expected": [[start, end, state]...], "rss": N, "vsz": N}]}
Addresses are bytes (decimal), page aligned, below 2^53. `initial` is applied
with set ops in order; `expected` is the full sorted, merged range list; an op
with "error" must fail with that errno and leave the map unchanged.
"""

import json
import os
import sys

PAGE = 4096
R, N, U = "resident", "not_resident", "untracked"
STATES = (R, N, U)

# Page numbers used for realistic and extreme addresses.
STACK = 0x7FFFFFFDE000 // PAGE  # a typical x86-64 stack top region
TOP53 = (1 << 53) // PAGE - 1  # the highest end page: every address stays below 2^53


def st(a, b, s):
    return (a, b, s)


def op_set(a, b, s, error=None):
    return {"op": "set", "start": a, "end": b, "state": s, "error": error}


def op_update(a, b, s, error=None):
    return {"op": "update", "start": a, "end": b, "state": s, "error": error}


def op_remove(a, b, error=None):
    return {"op": "remove", "start": a, "end": b, "error": error}


def op_remap(fa, fb, ta, tb, error=None):
    return {"op": "remap", "from_start": fa, "from_end": fb, "to_start": ta, "to_end": tb,
            "error": error}


def op_clear():
    return {"op": "clear", "error": None}


class PageModel:
    """One dict entry per mapped page: slow, small, obviously right."""

    def __init__(self):
        self.pages = {}

    def apply(self, op):
        kind = op["op"]
        if kind == "clear":
            self.pages.clear()
            return None
        if kind == "remap":
            fa, fb, ta, tb = op["from_start"], op["from_end"], op["to_start"], op["to_end"]
            if fa >= fb or ta >= tb:
                return "EINVAL"
            keep = min(fb - fa, tb - ta)
            moved = {ta + k: self.pages[fa + k] for k in range(keep) if fa + k in self.pages}
            for p in list(range(fa, fb)) + list(range(ta, tb)):
                self.pages.pop(p, None)
            self.pages.update(moved)
            for p in range(ta + keep, tb):
                self.pages[p] = N
            return None
        a, b = op["start"], op["end"]
        if a >= b or (kind != "remove" and op["state"] not in STATES):
            return "EINVAL"
        for p in range(a, b):
            if kind == "set":
                self.pages[p] = op["state"]
            elif kind == "update":
                if p in self.pages:
                    self.pages[p] = op["state"]
            else:
                self.pages.pop(p, None)
        return None

    def ranges(self):
        out = []
        for p in sorted(self.pages):
            s = self.pages[p]
            if out and out[-1][1] == p and out[-1][2] == s:
                out[-1][1] = p + 1
            else:
                out.append([p, p + 1, s])
        return [tuple(r) for r in out]


VECTORS = {}


def vec(topic, name, description, initial, ops, expected):
    VECTORS.setdefault(topic, []).append(
        {"name": name, "description": description, "initial": initial, "ops": ops,
         "expected": expected})


# ---------------------------------------------------------------- set.json
vec("set", "set_into_empty", "a new mapping in an empty map",
    [], [op_set(16, 20, R)], [st(16, 20, R)])
vec("set", "set_two_disjoint_reverse_order", "ranges come out sorted whatever the insertion order",
    [], [op_set(32, 40, N), op_set(16, 20, R)], [st(16, 20, R), st(32, 40, N)])
vec("set", "set_overwrite_exact", "setting exactly an existing range replaces its state",
    [st(16, 20, R)], [op_set(16, 20, N)], [st(16, 20, N)])
vec("set", "set_overlap_left_partial", "a set overlapping the left part of a range trims it",
    [st(16, 24, R)], [op_set(12, 18, N)], [st(12, 18, N), st(18, 24, R)])
vec("set", "set_overlap_right_partial", "a set overlapping the right part of a range trims it",
    [st(16, 24, R)], [op_set(20, 28, N)], [st(16, 20, R), st(20, 28, N)])
vec("set", "set_split_middle", "a set inside a range splits it in three",
    [st(16, 32, R)], [op_set(20, 24, N)], [st(16, 20, R), st(20, 24, N), st(24, 32, R)])
vec("set", "set_spanning_several", "a set across several ranges and holes trims both ends and replaces the middle",
    [st(16, 20, R), st(20, 24, N), st(28, 32, U), st(36, 40, R)],
    [op_set(18, 38, N)], [st(16, 18, R), st(18, 38, N), st(38, 40, R)])
vec("set", "set_covering_everything", "a set covering every range leaves one range",
    [st(16, 20, R), st(24, 28, N), st(30, 31, U)],
    [op_set(8, 40, U)], [st(8, 40, U)])
vec("set", "set_same_state_inside", "setting a sub-range to the state it already has changes nothing",
    [st(16, 32, R)], [op_set(20, 24, R)], [st(16, 32, R)])
vec("set", "set_fills_hole_equal_neighbours", "filling the hole between two equal ranges merges all three",
    [st(16, 20, R), st(24, 28, R)], [op_set(20, 24, R)], [st(16, 28, R)])
vec("set", "set_fills_hole_other_state", "filling a hole with another state keeps three ranges",
    [st(16, 20, R), st(24, 28, R)], [op_set(20, 24, N)], [st(16, 20, R), st(20, 24, N), st(24, 28, R)])
vec("set", "set_touch_left_merges", "a range ending exactly where an equal range starts merges with it",
    [st(16, 20, R)], [op_set(12, 16, R)], [st(12, 20, R)])
vec("set", "set_touch_right_merges", "a range starting exactly where an equal range ends merges with it",
    [st(16, 20, R)], [op_set(20, 24, R)], [st(16, 24, R)])
vec("set", "set_touch_other_state_no_merge", "touching ranges of different states stay apart",
    [st(16, 20, R)], [op_set(20, 24, N), op_set(12, 16, U)],
    [st(12, 16, U), st(16, 20, R), st(20, 24, N)])
vec("set", "set_bridge_merges_three", "recolouring the middle of R|N|R to R leaves one range",
    [st(16, 20, R), st(20, 24, N), st(24, 28, R)], [op_set(20, 24, R)], [st(16, 28, R)])
vec("set", "set_partial_then_merge_left", "overwriting the start of a range merges it with its left neighbour",
    [st(16, 20, R), st(20, 28, N)], [op_set(20, 24, R)], [st(16, 24, R), st(20 + 4, 28, N)])
vec("set", "set_overlapping_end_merges_right", "a set overlapping the left part of an equal range merges",
    [st(16, 24, N)], [op_set(10, 18, N)], [st(10, 24, N)])
vec("set", "set_untracked_not_in_rss", "untracked pages count in vsz, not in rss",
    [], [op_set(16, 24, U), op_set(24, 26, R)], [st(16, 24, U), st(24, 26, R)])
vec("set", "set_replaces_many_small", "one set replaces many one-page ranges of alternating states",
    [st(16 + i, 17 + i, R if i % 2 else N) for i in range(12)],
    [op_set(17, 27, U)], [st(16, 17, N), st(17, 27, U), st(27, 28, R)])

# ---------------------------------------------------------------- update.json
vec("update", "update_whole_range", "paging in a whole mapping",
    [st(16, 24, N)], [op_update(16, 24, R)], [st(16, 24, R)])
vec("update", "update_single_page_middle", "a page fault in the middle of a mapping splits it",
    [st(16, 32, N)], [op_update(20, 21, R)], [st(16, 20, N), st(20, 21, R), st(21, 32, N)])
vec("update", "update_first_page", "a page fault on the first page",
    [st(16, 32, N)], [op_update(16, 17, R)], [st(16, 17, R), st(17, 32, N)])
vec("update", "update_last_page", "a page fault on the last page",
    [st(16, 32, N)], [op_update(31, 32, R)], [st(16, 31, N), st(31, 32, R)])
vec("update", "update_across_hole", "an update across a hole leaves the hole unmapped",
    [st(16, 20, N), st(24, 28, N)], [op_update(16, 28, R)], [st(16, 20, R), st(24, 28, R)])
vec("update", "update_in_hole_only", "an update of unmapped space changes nothing",
    [st(16, 20, R)], [op_update(24, 28, N)], [st(16, 20, R)])
vec("update", "update_empty_map", "an update on an empty map changes nothing",
    [], [op_update(0, 1024, R)], [])
vec("update", "update_overlap_left", "an update starting in a hole changes only the mapped part",
    [st(16, 24, N)], [op_update(12, 18, R)], [st(16, 18, R), st(18, 24, N)])
vec("update", "update_overlap_right", "an update ending in a hole changes only the mapped part",
    [st(16, 24, N)], [op_update(20, 30, R)], [st(16, 20, N), st(20, 24, R)])
vec("update", "update_beyond_both_ends", "an update wider than the mapping changes exactly the mapping",
    [st(16, 24, N)], [op_update(8, 40, R)], [st(16, 24, R)])
vec("update", "update_merges_neighbours", "paging in the only non-resident page merges the three ranges",
    [st(16, 20, R), st(20, 21, N), st(21, 24, R)], [op_update(20, 21, R)], [st(16, 24, R)])
vec("update", "update_dontneed_middle", "MADV_DONTNEED in the middle of a resident range",
    [st(16, 32, R)], [op_update(18, 30, N)], [st(16, 18, R), st(18, 30, N), st(30, 32, R)])
vec("update", "update_same_state", "an update to the current state changes nothing",
    [st(16, 24, R), st(24, 28, N)], [op_update(16, 24, R)], [st(16, 24, R), st(24, 28, N)])
vec("update", "update_mixed_states_merge", "an update across R|U|N makes one range of the new state",
    [st(16, 20, R), st(20, 24, U), st(24, 28, N)], [op_update(16, 28, N)], [st(16, 28, N)])
vec("update", "update_untracked_is_mapped", "untracked pages are mapped, so update changes them",
    [st(16, 24, U)], [op_update(20, 22, R)], [st(16, 20, U), st(20, 22, R), st(22, 24, U)])
vec("update", "update_sequential_faults_coalesce", "page faults on consecutive pages coalesce into one range",
    [st(16, 24, N)], [op_update(16 + i, 17 + i, R) for i in range(8)], [st(16, 24, R)])
vec("update", "update_many_holes_partial_ends", "an update across several mappings and holes, ending inside ranges",
    [st(10, 14, U), st(16, 20, N), st(22, 23, R), st(26, 30, N), st(32, 40, R)],
    [op_update(12, 34, N)],
    [st(10, 12, U), st(12, 14, N), st(16, 20, N), st(22, 23, N), st(26, 30, N), st(32, 34, N),
     st(34, 40, R)])
vec("update", "update_merges_across_touching_mappings", "touching mappings updated to one state merge (no hole between)",
    [st(16, 20, R), st(20, 24, U)], [op_update(16, 24, N)], [st(16, 24, N)])

# ---------------------------------------------------------------- remove.json
vec("remove", "remove_exact", "munmap of exactly one mapping",
    [st(16, 20, R), st(24, 28, N)], [op_remove(16, 20)], [st(24, 28, N)])
vec("remove", "remove_nothing_empty_map", "munmap on an empty map is not an error",
    [], [op_remove(16, 20)], [])
vec("remove", "remove_nothing_in_hole", "munmap of a hole changes nothing",
    [st(16, 20, R), st(24, 28, R)], [op_remove(20, 24)], [st(16, 20, R), st(24, 28, R)])
vec("remove", "remove_touching_nothing", "munmap of the space right after a mapping changes nothing",
    [st(16, 20, R)], [op_remove(20, 24), op_remove(12, 16)], [st(16, 20, R)])
vec("remove", "remove_left_part", "munmap of the start of a mapping",
    [st(16, 24, R)], [op_remove(12, 18)], [st(18, 24, R)])
vec("remove", "remove_right_part", "munmap of the end of a mapping",
    [st(16, 24, R)], [op_remove(20, 28)], [st(16, 20, R)])
vec("remove", "remove_middle_split", "munmap inside a mapping leaves two ranges of the same state",
    [st(16, 32, N)], [op_remove(20, 24)], [st(16, 20, N), st(24, 32, N)])
vec("remove", "remove_spanning_holes", "munmap across several mappings and holes trims the ends",
    [st(10, 14, U), st(16, 20, N), st(22, 23, R), st(26, 30, N)],
    [op_remove(12, 28)], [st(10, 12, U), st(28, 30, N)])
vec("remove", "remove_everything", "munmap covering every mapping empties the map",
    [st(16, 20, R), st(20, 24, N), st(30, 31, U)], [op_remove(0, 64)], [])
vec("remove", "remove_single_page_range", "munmap of a one-page mapping",
    [st(16, 17, R), st(17, 18, N)], [op_remove(16, 17)], [st(17, 18, N)])
vec("remove", "remove_then_remap_fills_merge", "a hole punched and mapped again merges back",
    [st(16, 24, R)], [op_remove(18, 20), op_set(18, 20, R)], [st(16, 24, R)])
vec("remove", "remove_state_boundary", "munmap exactly over a state boundary",
    [st(16, 20, R), st(20, 24, N)], [op_remove(18, 22)], [st(16, 18, R), st(22, 24, N)])

# ---------------------------------------------------------------- remap.json
vec("remap", "remap_grow_in_place", "mremap growing in place: the new tail is not resident",
    [st(16, 20, R)], [op_remap(16, 20, 16, 24)], [st(16, 20, R), st(20, 24, N)])
vec("remap", "remap_grow_in_place_tail_merges", "a grown tail merges with a not-resident end",
    [st(16, 18, R), st(18, 20, N)], [op_remap(16, 20, 16, 24)], [st(16, 18, R), st(18, 24, N)])
vec("remap", "remap_shrink_in_place", "mremap shrinking in place drops the old tail",
    [st(16, 18, R), st(18, 20, N), st(20, 24, U)], [op_remap(16, 24, 16, 19)],
    [st(16, 18, R), st(18, 19, N)])
vec("remap", "remap_move_disjoint_up", "moving a mapping to a higher free place",
    [st(16, 20, R)], [op_remap(16, 20, 64, 68)], [st(64, 68, R)])
vec("remap", "remap_move_disjoint_down", "moving a mapping to a lower free place",
    [st(64, 68, R)], [op_remap(64, 68, 16, 20)], [st(16, 20, R)])
vec("remap", "remap_move_keeps_page_states", "a move keeps every page's state",
    [st(16, 17, R), st(17, 19, N), st(19, 20, U)], [op_remap(16, 20, 64, 68)],
    [st(64, 65, R), st(65, 67, N), st(67, 68, U)])
vec("remap", "remap_move_and_grow", "move and grow: the tail is not resident and merges with a not-resident end",
    [st(16, 18, R), st(18, 20, N)], [op_remap(16, 20, 64, 70)], [st(64, 66, R), st(66, 70, N)])
vec("remap", "remap_move_and_shrink", "move and shrink: only the first new_len bytes move",
    [st(16, 17, R), st(17, 19, N), st(19, 20, U)], [op_remap(16, 20, 64, 66)],
    [st(64, 65, R), st(65, 66, N)])
vec("remap", "remap_overlap_forward", "a move onto an overlapping range at a higher address",
    [st(16, 18, R), st(18, 24, N)], [op_remap(16, 24, 20, 28)], [st(20, 22, R), st(22, 28, N)])
vec("remap", "remap_overlap_backward", "a move onto an overlapping range at a lower address",
    [st(16, 18, R), st(18, 22, N), st(22, 24, U)], [op_remap(16, 24, 12, 20)],
    [st(12, 14, R), st(14, 18, N), st(18, 20, U)])
vec("remap", "remap_overlap_forward_grow", "an overlapping move that also grows",
    [st(16, 20, R)], [op_remap(16, 20, 18, 26)], [st(18, 22, R), st(22, 26, N)])
vec("remap", "remap_overlap_backward_shrink", "an overlapping move that also shrinks",
    [st(16, 18, R), st(18, 24, U)], [op_remap(16, 24, 14, 19)], [st(14, 16, R), st(16, 19, U)])
vec("remap", "remap_onto_existing_overwrites", "a move onto an existing mapping overwrites it",
    [st(16, 20, R), st(64, 72, U)], [op_remap(16, 20, 64, 68)], [st(64, 68, R), st(68, 72, U)])
vec("remap", "remap_onto_existing_grow_overwrites", "move and grow over an existing mapping: old pages, then new tail, then what is left",
    [st(16, 20, R), st(62, 72, U)], [op_remap(16, 20, 64, 70)],
    [st(62, 64, U), st(64, 68, R), st(68, 70, N), st(70, 72, U)])
vec("remap", "remap_grow_in_place_over_neighbour", "growing in place overwrites the mapping that follows",
    [st(16, 20, R), st(20, 24, U)], [op_remap(16, 20, 16, 22)],
    [st(16, 20, R), st(20, 22, N), st(22, 24, U)])
vec("remap", "remap_source_with_holes", "holes inside the old range stay holes at the new place, even over a mapping",
    [st(16, 18, R), st(20, 22, N), st(62, 72, U)], [op_remap(16, 22, 64, 70)],
    [st(62, 64, U), st(64, 66, R), st(68, 70, N), st(70, 72, U)])
vec("remap", "remap_source_partially_unmapped", "a source whose start is unmapped: the unmapped part moves as a hole",
    [st(20, 24, R)], [op_remap(16, 24, 64, 72)], [st(68, 72, R)])
vec("remap", "remap_source_unmapped_grow", "an entirely unmapped source: only the grown tail is mapped",
    [st(64, 72, U)], [op_remap(16, 20, 64, 70)], [st(68, 70, N), st(70, 72, U)])
vec("remap", "remap_merges_at_destination", "a moved range merges with equal neighbours at the destination",
    [st(16, 20, R), st(60, 64, R), st(68, 70, R)], [op_remap(16, 20, 64, 68)], [st(60, 70, R)])
vec("remap", "remap_same_range", "mremap to the same range changes nothing",
    [st(16, 18, R), st(18, 20, N)], [op_remap(16, 20, 16, 20)], [st(16, 18, R), st(18, 20, N)])
vec("remap", "remap_part_of_mapping", "moving the middle of a mapping leaves a hole behind",
    [st(16, 32, R)], [op_remap(20, 24, 64, 68)], [st(16, 20, R), st(24, 32, R), st(64, 68, R)])
vec("remap", "remap_into_own_range", "moving the start of a mapping over its own end",
    [st(16, 18, R), st(18, 32, N)], [op_remap(16, 20, 24, 28)],
    [st(20, 24, N), st(24, 26, R), st(26, 32, N)])
vec("remap", "remap_shrink_move_backward_overlap", "shrink while moving down over the source start",
    [st(16, 17, U), st(17, 24, R)], [op_remap(16, 24, 15, 18)], [st(15, 16, U), st(16, 18, R)])
vec("remap", "remap_grow_in_place_with_holes", "growing a range whose middle is a hole keeps the hole",
    [st(16, 18, R), st(19, 20, R)], [op_remap(16, 20, 16, 22)],
    [st(16, 18, R), st(19, 20, R), st(20, 22, N)])
vec("remap", "remap_many_ranges", "moving a striped mapping keeps every stripe",
    [st(16 + i, 17 + i, R if i % 2 else N) for i in range(8)], [op_remap(16, 24, 100, 108)],
    [st(100 + i, 101 + i, R if i % 2 else N) for i in range(8)])

# ---------------------------------------------------------------- clear.json
vec("clear", "clear_empty", "clearing an empty map", [], [op_clear()], [])
vec("clear", "clear_populated", "exec clears every range",
    [st(16, 20, R), st(24, 28, N), st(30, 40, U)], [op_clear()], [])
vec("clear", "clear_then_set", "a map is usable after a clear",
    [st(16, 20, R)], [op_clear(), op_set(32, 36, N)], [st(32, 36, N)])
vec("clear", "clear_twice", "clearing twice is harmless",
    [st(16, 20, R)], [op_clear(), op_clear()], [])

# ---------------------------------------------------------------- merge.json
vec("merge", "merge_sets_page_by_page", "one-page sets of one state, in any order, become one range",
    [], [op_set(18, 19, R), op_set(16, 17, R), op_set(19, 20, R), op_set(17, 18, R)],
    [st(16, 20, R)])
vec("merge", "merge_no_merge_across_hole", "equal ranges separated by a one-page hole stay apart",
    [st(16, 20, R), st(21, 24, R)], [], [st(16, 20, R), st(21, 24, R)])
vec("merge", "merge_alternating_states", "alternating states never merge",
    [st(16, 17, R), st(17, 18, N), st(18, 19, R), st(19, 20, N)], [],
    [st(16, 17, R), st(17, 18, N), st(18, 19, R), st(19, 20, N)])
vec("merge", "merge_initial_overlapping_sets", "initial sets that overlap are applied in order",
    [st(16, 24, R), st(20, 28, R), st(22, 23, N)], [], [st(16, 22, R), st(22, 23, N), st(23, 28, R)])
vec("merge", "merge_update_collapses_stripes", "paging in a striped range collapses it",
    [st(16 + i, 17 + i, R if i % 2 else N) for i in range(10)], [op_update(16, 26, R)],
    [st(16, 26, R)])
vec("merge", "merge_remap_into_gap", "moving a range into the gap between two equal ranges merges all three",
    [st(16, 20, N), st(24, 28, N), st(64, 68, N)], [op_remap(64, 68, 20, 24)], [st(16, 28, N)])
vec("merge", "merge_remove_then_fill_other_state", "a hole refilled with another state does not merge",
    [st(16, 24, R)], [op_remove(20, 21), op_set(20, 21, N)],
    [st(16, 20, R), st(20, 21, N), st(21, 24, R)])
vec("merge", "merge_dontneed_then_fault", "MADV_DONTNEED then re-faulting the same pages restores one range",
    [st(16, 32, R)], [op_update(20, 24, N), op_update(20, 22, R), op_update(22, 24, R)],
    [st(16, 32, R)])

# ---------------------------------------------------------------- edge.json
vec("edge", "edge_address_zero", "a range starting at address 0",
    [], [op_set(0, 4, R), op_update(0, 1, N)], [st(0, 1, N), st(1, 4, R)])
vec("edge", "edge_address_zero_remove", "munmap from address 0",
    [st(0, 8, R)], [op_remove(0, 2)], [st(2, 8, R)])
vec("edge", "edge_near_2_53", "ranges ending one page below 2^53 (the largest addresses in vectors)",
    [], [op_set(TOP53 - 8, TOP53, N), op_update(TOP53 - 1, TOP53, R)],
    [st(TOP53 - 8, TOP53 - 1, N), st(TOP53 - 1, TOP53, R)])
vec("edge", "edge_remap_to_2_53", "moving a mapping to the top of the vector address space (just below 2^53)",
    [st(16, 18, R), st(18, 20, N)], [op_remap(16, 20, TOP53 - 6, TOP53)],
    [st(TOP53 - 6, TOP53 - 4, R), st(TOP53 - 4, TOP53, N)])
vec("edge", "edge_stack_addresses", "realistic x86-64 stack addresses",
    [st(STACK, STACK + 33, N)], [op_update(STACK + 31, STACK + 33, R)],
    [st(STACK, STACK + 31, N), st(STACK + 31, STACK + 33, R)])
vec("edge", "edge_single_page_everywhere", "one-page set, update and remove next to each other",
    [st(16, 17, N)], [op_set(17, 18, R), op_update(16, 17, R), op_remove(18, 19), op_set(15, 16, U)],
    [st(15, 16, U), st(16, 18, R)])
vec("edge", "edge_heap_lifecycle", "brk heap: map, fault, grow, fault, madvise, shrink",
    [], [op_set(100, 132, N), op_update(100, 110, R), op_remap(100, 132, 100, 164),
         op_update(150, 160, R), op_update(104, 108, N), op_remap(100, 164, 100, 156)],
    [st(100, 104, R), st(104, 108, N), st(108, 110, R), st(110, 150, N), st(150, 156, R)])
vec("edge", "edge_invalid_set_empty", "set with start == end fails with EINVAL and changes nothing",
    [st(16, 20, R)], [op_set(24, 24, R, error="EINVAL")], [st(16, 20, R)])
vec("edge", "edge_invalid_set_inverted", "set with start > end fails with EINVAL",
    [st(16, 20, R)], [op_set(20, 16, N, error="EINVAL")], [st(16, 20, R)])
vec("edge", "edge_invalid_update_inverted", "update with start > end fails with EINVAL",
    [st(16, 20, N)], [op_update(20, 16, R, error="EINVAL")], [st(16, 20, N)])
vec("edge", "edge_invalid_update_empty", "update with start == end fails with EINVAL",
    [st(16, 20, N)], [op_update(16, 16, R, error="EINVAL")], [st(16, 20, N)])
vec("edge", "edge_invalid_remove_empty", "remove with start == end fails with EINVAL",
    [st(16, 20, R)], [op_remove(18, 18, error="EINVAL")], [st(16, 20, R)])
vec("edge", "edge_invalid_remove_inverted", "remove with start > end fails with EINVAL",
    [st(16, 20, R)], [op_remove(20, 16, error="EINVAL")], [st(16, 20, R)])
vec("edge", "edge_invalid_remap_old_empty", "remap with an empty old range fails with EINVAL",
    [st(16, 20, R)], [op_remap(16, 16, 32, 36, error="EINVAL")], [st(16, 20, R)])
vec("edge", "edge_invalid_remap_new_inverted", "remap with an inverted new range fails with EINVAL",
    [st(16, 20, R)], [op_remap(16, 20, 36, 32, error="EINVAL")], [st(16, 20, R)])
vec("edge", "edge_error_then_continue", "a rejected op changes nothing and later ops still apply",
    [st(16, 20, N)],
    [op_update(18, 18, R, error="EINVAL"), op_remap(20, 16, 40, 44, error="EINVAL"),
     op_update(16, 18, R)],
    [st(16, 18, R), st(18, 20, N)])


def to_bytes_range(r):
    return [r[0] * PAGE, r[1] * PAGE, r[2]]


def to_bytes_op(op):
    out = {}
    for k, v in op.items():
        if v is None:
            continue
        out[k] = v * PAGE if isinstance(v, int) else v
    return out


def check(topic, v):
    """Runs the page model on the vector and compares with the hand-written expectation."""
    m = PageModel()
    for a, b, s in v["initial"]:
        assert m.apply(op_set(a, b, s)) is None
    for i, op in enumerate(v["ops"]):
        before = m.ranges()
        err = m.apply(op)
        if err != op.get("error"):
            sys.exit(f"{topic}/{v['name']}: op {i} gives error {err}, vector says {op.get('error')}")
        if err is not None:
            assert m.ranges() == before
    got = m.ranges()
    if got != [tuple(r) for r in v["expected"]]:
        sys.exit(f"{topic}/{v['name']}: model gives {got}, vector says {v['expected']}")
    addresses = [x for r in v["initial"] + v["expected"] for x in r[:2]]
    addresses += [x for op in v["ops"] for x in op.values() if isinstance(x, int)]
    assert all(0 <= a and a * PAGE < (1 << 53) for a in addresses), v["name"]
    rss = sum(b - a for a, b, s in got if s == R) * PAGE
    vsz = sum(b - a for a, b, s in got) * PAGE
    return rss, vsz


def dump(vectors):
    """JSON with one range or op per line: readable in review and in diffs."""
    lines = ['{"vectors": [']
    for i, v in enumerate(vectors):
        lines.append("  {")
        lines.append(f'    "name": {json.dumps(v["name"])},')
        lines.append(f'    "description": {json.dumps(v["description"])},')
        for key in ("initial", "ops", "expected"):
            items = [json.dumps(x) for x in v[key]]
            if not items:
                lines.append(f'    "{key}": [],')
            else:
                lines.append(f'    "{key}": [')
                lines.append(",\n".join("      " + s for s in items))
                lines.append("    ],")
        lines.append(f'    "rss": {v["rss"]},')
        lines.append(f'    "vsz": {v["vsz"]}')
        lines.append("  }" + ("," if i + 1 < len(vectors) else ""))
    lines.append("]}")
    return "\n".join(lines) + "\n"


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "vectors")
    names = set()
    total = 0
    files = {}
    for topic, vectors in VECTORS.items():
        out = []
        for v in vectors:
            assert v["name"] not in names, f"duplicate name {v['name']}"
            names.add(v["name"])
            rss, vsz = check(topic, v)
            out.append({
                "name": v["name"],
                "description": v["description"],
                "initial": [to_bytes_range(r) for r in v["initial"]],
                "ops": [to_bytes_op(op) for op in v["ops"]],
                "expected": [to_bytes_range(r) for r in v["expected"]],
                "rss": rss,
                "vsz": vsz,
            })
        files[topic] = dump(out)
        json.loads(files[topic])  # well-formed
        total += len(out)
    # Write only once every vector has passed its check.
    for topic, text in files.items():
        with open(os.path.join(outdir, f"{topic}.json"), "w") as f:
            f.write(text)
        print(f"{topic}.json: {len(VECTORS[topic])} vectors")
    print(f"total: {total} vectors")


if __name__ == "__main__":
    main()
