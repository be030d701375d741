"""Grouped one-pass aggregation of survey modules by household.

A survey module (roster, livestock, expenditure ...) holds many rows per household. The
build maps each row to its household's position once (`dense_lookup`, or pandas for keys
that are not integers) and then aggregates every column it needs in one pass over the
rows (`group_reduce`, `roster_pass`, `units_pass`, `group_sum*`). Rows are visited in
their source order and each household's values are summed sequentially, so results are
deterministic and a household's numbers do not depend on the other households.

The kernels read columns as stored (integer counts, float amounts), with the declared
missing codes beside them (`_num`), rather than float64 copies; and the checks first count
the bad cells in the same pass (`wide_add`, `wide_counts`, `row_counts`): a clean module
costs that one pass, and the cells are listed one by one only where the counts are not zero.
The loops add 0/1 conditions rather than branch on survey answers, which the processor
cannot predict.
"""

import numpy as np
from numba import njit

# A dense lookup table is used when the span of integer household ids is at most this
# many times the number of households (else the caller hashes with pandas).
DENSE_SPAN_FACTOR = 8

# Module columns reach the kernels as stored (int64 counts, float64 amounts ...) with the
# declared missing codes beside them: converting each column to float64 first would
# write (and page in) a copy of every column the build reads.
NO_CODES = np.empty(0)


def zeros(shape, dtype=np.float64) -> np.ndarray:
    """An array of zeros written at once, for a kernel that adds into it: numpy's zeros
    of new memory are pages the kernel first reads (the shared zero page) and then
    writes, two faults per page and a flush of the other threads' address caches; pages
    written first take one fault each. A large array is written by ranges on the
    available threads, so its pages are faulted in on every core at once."""
    from rima._kernels.threads import run_ranges

    out = np.empty(shape, dtype=dtype)
    flat = out.reshape(-1)
    run_ranges(lambda i, a, b: flat[a:b].fill(0), flat.shape[0])
    return out


@njit(inline="always")
def _num(x, i, miss):
    """Row i of a stored column as float64; NaN where it equals a missing code."""
    v = np.float64(x[i])
    for c in range(miss.shape[0]):
        if v == miss[c]:
            return np.nan
    return v


@njit(inline="always")
def _outside_domain(x, kind, top):
    """The cell rule of a wide module column: kind 1 a count in 0..top (whole numbers),
    kind 2 a yes/no answer (0 or 1), kind 0 any number. Written as 0/1 conditions rather
    than branches on the answer: survey answers defeat branch prediction."""
    if kind == 1:
        return (x < 0) | (x > top) | (x != np.floor(x))
    if kind == 2:
        return (x != 0) & (x != 1)
    return False


@njit(cache=True, nogil=True)
def dense_table(keys, lo, table):
    """Position of each household id in `keys` (int64) into `table` (int64, all -1 on
    entry; the caller's: numpy's allocation of a large array is cheaper to fault in),
    indexed by id - lo.

    Returns the first duplicate position or -1: a repeated household id is reported, the
    first occurrence keeps the table slot.
    """
    dup = -1
    for i in range(keys.shape[0]):
        j = keys[i] - lo
        if table[j] >= 0:
            if dup < 0:
                dup = i
        else:
            table[j] = i
    return dup


# Rows `dense_lookup` looks up before it summarises them (while they are in the cache).
LOOKUP_CHUNK = 65536


@njit(cache=True, nogil=True)
def dense_lookup(keys, lo, table, out, bounds, summary, b0, b1):
    """Household position of each module row into out (-1: id not in the household
    table; out may be int32, half the memory of int64 for the largest modules), over
    the rows bounds[b] .. bounds[b + 1] - 1 of blocks b0 .. b1 - 1 (any cut: each row is
    looked up alone, so blocks can run on several threads).

    summary (n_blocks, 3) receives block b's rows left out, rows i whose position is not
    i, and rows whose position is below the previous row's in the block: what
    `code_summary` finds, without a second pass (the caller adds the block edges).
    """
    span = table.shape[0]
    for b in range(b0, b1):
        lost = 0
        moved = 0
        falls = 0
        start = bounds[b]
        end = bounds[b + 1]
        # a chunk is looked up, then summarised while in the cache, in loops over views
        # without a value carried from row to row (vector instructions)
        for c0 in range(start, end, LOOKUP_CHUNK):
            c1 = min(end, c0 + LOOKUP_CHUNK)
            k = keys[c0:c1]
            o = out[c0:c1]
            for i in range(o.shape[0]):
                j = k[i] - lo
                if j < 0 or j >= span:
                    o[i] = -1
                else:
                    o[i] = table[j]
            for i in range(o.shape[0]):
                c = o[i]
                lost += np.int64(c < 0)
                moved += np.int64(c != i + c0)
            for i in range(1, o.shape[0]):
                falls += np.int64(o[i] < o[i - 1])
            if c0 > start:
                falls += np.int64(o[0] < out[c0 - 1])
        summary[b, 0] = lost
        summary[b, 1] = moved
        summary[b, 2] = falls


@njit(cache=True, nogil=True)
def block_bounds(codes, n_blocks):
    """Row boundaries (n_blocks + 1,) cutting rows whose households never decrease into
    about equal blocks, each cut moved forward to the start of a household's run (past
    rows left out), so that no household has rows in two blocks."""
    n = codes.shape[0]
    bounds = np.empty(n_blocks + 1, dtype=np.int64)
    bounds[0] = 0
    for b in range(1, n_blocks):
        i = max(bounds[b - 1], (n * b) // n_blocks)
        prev = -1
        k = i - 1
        while k >= bounds[b - 1] and prev < 0:
            prev = codes[k]
            k -= 1
        while i < n and (codes[i] < 0 or codes[i] == prev):
            i += 1
        bounds[b] = i
    bounds[n_blocks] = n
    return bounds


@njit(cache=True, nogil=True, error_model="numpy")
def group_reduce(codes, n_groups, V):
    """Sums, counts, minima, maxima and first values of the columns of V by group.

    codes (n,) int64: each row's group in [0, n_groups), or -1 for a row left out.
    V (k, n) float64: one column per row of V; NaN = missing (not summed, not counted).

    Returns rows (G,) rows per group, first_row (G,) the first source row of each group
    (-1 if none), sums (k, G), counts (k, G) non-missing values, mins (k, G), maxs (k, G)
    (NaN where a group has no value) and firsts (k, G), the value in the group's first row
    (NaN when missing there).
    """
    k, n = V.shape
    G = n_groups
    rows = np.zeros(G, dtype=np.int64)
    first_row = np.full(G, -1, dtype=np.int64)
    sums = np.zeros((k, G))
    counts = np.zeros((k, G), dtype=np.int64)
    mins = np.full((k, G), np.inf)
    maxs = np.full((k, G), -np.inf)
    firsts = np.full((k, G), np.nan)
    for i in range(n):
        g = codes[i]
        if g < 0:
            continue
        new = first_row[g] < 0
        if new:
            first_row[g] = i
        rows[g] += 1
        for c in range(k):
            x = V[c, i]
            if new:
                firsts[c, g] = x
            if not np.isnan(x):
                sums[c, g] += x
                counts[c, g] += 1
                mins[c, g] = min(mins[c, g], x)
                maxs[c, g] = max(maxs[c, g], x)
    for c in range(k):
        for g in range(G):
            if counts[c, g] == 0:
                mins[c, g] = np.nan
                maxs[c, g] = np.nan
    return rows, first_row, sums, counts, mins, maxs, firsts


# Person rows per chunk of `roster_pass`: a chunk's per-person fields are computed in one
# branch-free loop (vector instructions) into buffers that stay in the processor's cache,
# then added up household by household.
PERSON_CHUNK = 4096

# `roster_pass` adds a person's 0/1 fields packed FIELD_BITS apart in one integer, so a
# household's run of fewer than 2**FIELD_BITS rows cannot carry one field into the next.
FIELD_BITS = 6
N_FIELDS = 10

# Missing codes per column `roster_pass` compares (callers convert a column with more to
# float64 with NaN first): four comparisons without a loop keep its person loop
# branch-free, and one loop to compile instead of two.
ROSTER_CODES = 4


@njit(inline="always")
def _person(r, a, e, head_code, ages):
    """One person's fields for `roster_pass`: (0/1 fields packed FIELD_BITS apart in the
    order of its count rows 1 .. 10: head, adult, child, young, old, working age, age
    missing, age out of range, relation missing, adult without education; the person's
    education if an adult with one, else -inf). r, a, e: relation, age, education (NaN =
    missing). Comparisons with NaN are False, so a missing age counts in no age group."""
    adult_age, young_below, old_above, max_age, work_lo, work_hi = (
        ages[0], ages[1], ages[2], ages[3], ages[4], ages[5])
    no_age = np.isnan(a)
    valid = (a >= 0) & (a <= max_age)
    adult = valid & (a >= adult_age)
    no_edu = np.isnan(e)
    b = FIELD_BITS
    v = (np.int64(r == head_code)
         | (np.int64(adult) << b)
         | (np.int64(valid & (not adult)) << 2 * b)
         | (np.int64(valid & (a < young_below)) << 3 * b)
         | (np.int64(valid & (a > old_above)) << 4 * b)
         | (np.int64(valid & (a >= work_lo) & (a <= work_hi)) << 5 * b)
         | (np.int64(no_age) << 6 * b)
         | (np.int64((not no_age) & (not valid)) << 7 * b)
         | (np.int64(np.isnan(r)) << 8 * b)
         | (np.int64(adult & no_edu) << 9 * b))
    return v, (e if adult & (not no_edu) else -np.inf)


@njit(inline="always")
def _miss4(v, m0, m1, m2, m3):
    """v, or NaN where it equals one of four missing codes (NaN where fewer): compared
    without a loop or a branch."""
    return np.nan if (v == m0) | (v == m1) | (v == m2) | (v == m3) else v


@njit(inline="always")
def _codes4(miss):
    """The first four missing codes for `_miss4` (NaN, which equals nothing, where fewer)."""
    k = miss.shape[0]
    return (miss[0] if k > 0 else np.nan, miss[1] if k > 1 else np.nan,
            miss[2] if k > 2 else np.nan, miss[3] if k > 3 else np.nan)


@njit(nogil=True, error_model="numpy")
def _person_chunk(age, age_miss, rel, rel_miss, head_code, edu, edu_miss, ages, pv, pe):
    """`_person` of each row of the chunk (age, rel, edu: the chunk's rows) into pv, pe;
    at most four missing codes per column (ROSTER_CODES), compared without a branch."""
    a0, a1, a2, a3 = _codes4(age_miss)
    r0, r1, r2, r3 = _codes4(rel_miss)
    e0, e1, e2, e3 = _codes4(edu_miss)
    for i in range(age.shape[0]):
        pv[i], pe[i] = _person(_miss4(np.float64(rel[i]), r0, r1, r2, r3),
                               _miss4(np.float64(age[i]), a0, a1, a2, a3),
                               _miss4(np.float64(edu[i]), e0, e1, e2, e3), head_code, ages)


@njit(inline="always")
def _add_fields(Ct, g, packed):
    """Add the packed fields of some of a household's rows to its counts."""
    for k in range(N_FIELDS):
        Ct[k + 1, g] += (packed >> (FIELD_BITS * k)) & ((1 << FIELD_BITS) - 1)


@njit(cache=True, nogil=True, error_model="numpy")
def roster_pass(codes, age, age_miss, rel, rel_miss, head_code, edu, edu_miss, ages, bounds,
                Ct, cap, head_row, max_edu, head_age, head_edu, over, b0, b1):
    """Everything the roster recipes need, in one pass over the person rows of blocks
    b0 .. b1 - 1 (rows bounds[b] .. bounds[b + 1] - 1; no household in two blocks).

    codes (n,) household position of each person (-1: left out); age (n,) (NaN or a
    code of age_miss = missing); rel (n,) relation to the head, head_code the head's
    (NaN or a code of rel_miss = missing); edu (n,) years or level (NaN or a code of
    edu_miss = missing; at most ROSTER_CODES codes each). ages (6,) float: adult_age (AE
    adult from this age),
    young_below, old_above, max_age, working_low, working_high (working age:
    working_low <= age <= working_high).

    Adds to Ct (11, G) integer counts: members, heads, adults, children, young, old,
    working, ages missing, ages out of range (< 0 or > max_age), relation missing,
    education missing among adults; sets head_row (G,) to the source row of the first
    head (-1 none) and max_edu (G,) to the adults' maximum education (-inf: none),
    head_age and head_edu (G,) to that head's age and education (NaN on entry; missing
    codes as NaN): each not kept when of length 0, for a build that does not use it.
    Ct may be a narrow type holding counts up to `cap` (int16 for households of up to
    32,767 persons: half the memory of int32): over[b] is set to 1 where a household of
    block b has more members, and the caller counts again in a wider type (every other
    count is at most the members, so none of them can pass `cap` before the members do).

    The rows are taken PERSON_CHUNK at a time: first each person's fields, without
    branches (ages and education are unpredictable for the branch predictor), then each
    run of a household's rows adds its packed fields in one register and stores its
    counts once (every 63 rows in a longer run, before a field could carry).
    """
    if max(age_miss.shape[0], rel_miss.shape[0], edu_miss.shape[0]) > ROSTER_CODES:
        raise ValueError("roster_pass: more than ROSTER_CODES missing codes in a column")
    pv = np.empty(PERSON_CHUNK, dtype=np.int64)
    pe = np.empty(PERSON_CHUNK)
    keep_edu = max_edu.shape[0] > 0
    keep_head_age = head_age.shape[0] > 0
    keep_head_edu = head_edu.shape[0] > 0
    a0, a1, a2, a3 = _codes4(age_miss)
    e0, e1, e2, e3 = _codes4(edu_miss)
    full = (1 << FIELD_BITS) - 1  # rows a packed sum holds without a carry between fields
    for b in range(b0, b1):
        end = bounds[b + 1]
        g = -1
        packed = np.int64(0)
        members = 0
        pending = 0
        hr = -1
        me = -np.inf
        ha = np.nan
        he = np.nan
        for c0 in range(bounds[b], end, PERSON_CHUNK):
            c1 = min(end, c0 + PERSON_CHUNK)
            _person_chunk(age[c0:c1], age_miss, rel[c0:c1], rel_miss, head_code, edu[c0:c1],
                          edu_miss, ages, pv, pe)
            cs = codes[c0:c1]  # loops from 0 over slices: see _cell_counts
            for t in range(cs.shape[0]):
                gi = cs[t]
                if gi != g:
                    if g >= 0:
                        if np.int64(Ct[0, g]) + members > cap:
                            over[b] = 1
                        Ct[0, g] += members
                        _add_fields(Ct, g, packed)
                        head_row[g] = hr
                        if keep_edu:
                            max_edu[g] = me
                        if keep_head_age:
                            head_age[g] = ha
                        if keep_head_edu:
                            head_edu[g] = he
                    g = gi
                    packed = 0
                    members = 0
                    pending = 0
                    if g >= 0:
                        hr = head_row[g]
                        me = max_edu[g] if keep_edu else -np.inf
                        ha = head_age[g] if keep_head_age else np.nan
                        he = head_edu[g] if keep_head_edu else np.nan
                if g < 0:
                    continue
                v = pv[t]
                packed += v
                members += 1
                pending += 1
                if pending == full:  # a household of 63 rows or more: store, go on
                    _add_fields(Ct, g, packed)
                    packed = 0
                    pending = 0
                if (v & 1) == 1 and hr < 0:
                    hr = c0 + t
                    # the head's own values: once per household, from rows in the cache
                    ha = _miss4(np.float64(age[hr]), a0, a1, a2, a3)
                    he = _miss4(np.float64(edu[hr]), e0, e1, e2, e3)
                me = max(me, pe[t])
        if g >= 0:
            if np.int64(Ct[0, g]) + members > cap:
                over[b] = 1
            Ct[0, g] += members
            _add_fields(Ct, g, packed)
            head_row[g] = hr
            if keep_edu:
                max_edu[g] = me
            if keep_head_age:
                head_age[g] = ha
            if keep_head_edu:
                head_edu[g] = he


@njit(cache=True, nogil=True)
def units_pass(codes, sp_codes, sp_map, x, miss, y, y_miss, units, bounds, sums, sums_y, bad,
               b0, b1):
    """Herd in units by household, over the rows of blocks b0 .. b1 - 1 of a long
    livestock module (rows bounds[b] .. bounds[b + 1] - 1; no household in two blocks),
    for one count column x, or two (x and y: the herd and its winter losses, say, summed
    in one pass over the rows' households and species).

    codes (n,) household of each row (-1 left out); sp_codes (n,) each row's name among
    the distinct names (-1 missing) and sp_map the species index of each name (-1
    unknown) followed by -2, the index of a missing name; x (n,) head counted (NaN or a
    code of miss = missing); y (n,) a second count column with its codes y_miss, or of
    length 0 for none; units (S,) units per head of each species.
    Rows with an unknown or missing species, a missing or a negative count are not summed.
    Adds x's sums to sums (G,) and y's to sums_y (G,), and to bad (n_blocks, 6) the rows
    left out in block b for each reason among the households' rows: unknown species,
    missing species, missing x, negative x, missing y, negative y.
    """
    two = y.shape[0] > 0
    for b in range(b0, b1):
        # counted in locals: the compiler cannot keep a count in a register when it
        # lives in an array the sums (another argument) might share
        unknown = 0
        no_name = 0
        no_count = 0
        negative = 0
        no_y = 0
        negative_y = 0
        lo = bounds[b]
        hi = bounds[b + 1]
        # loops from 0 over slices: see _cell_counts
        cs = codes[lo:hi]
        ss = sp_codes[lo:hi]
        xs = x[lo:hi]
        ys = y[lo:hi] if two else y
        for i in range(hi - lo):
            g = cs[i]
            if g < 0:
                continue
            c = ss[i]
            s = sp_map[c if c >= 0 else sp_map.shape[0] - 1]
            if s == -1:
                unknown += 1
                continue
            if s == -2:
                no_name += 1
                continue
            u = units[s]
            v = _num(xs, i, miss)
            if np.isnan(v):
                no_count += 1
            elif v < 0:
                negative += 1
            else:
                sums[g] += v * u
            if two:
                w = _num(ys, i, y_miss)
                if np.isnan(w):
                    no_y += 1
                elif w < 0:
                    negative_y += 1
                else:
                    sums_y[g] += w * u
        bad[b, 0] += unknown
        bad[b, 1] += no_name
        bad[b, 2] += no_count
        bad[b, 3] += negative
        bad[b, 4] += no_y
        bad[b, 5] += negative_y


@njit(cache=True, nogil=True)
def to_float(x, codes, out):
    """x (any numeric dtype) as float64 into `out`, cells equal to one of `codes`
    (float64) set to NaN: one pass instead of a conversion and a comparison per code."""
    if codes.shape[0] <= 4:
        m = np.full(4, np.nan)
        for t in range(codes.shape[0]):  # not m[:k] = codes: see wide_add
            m[t] = codes[t]
        _to_float4(x, m[0], m[1], m[2], m[3], out)
        return
    for i in range(x.shape[0]):
        out[i] = _num(x, i, codes)


@njit(nogil=True)
def _to_float4(x, m0, m1, m2, m3, out):
    # at most 4 codes (NaN where fewer), compared without branches: vector instructions
    for i in range(x.shape[0]):
        v = np.float64(x[i])
        hit = (v == m0) | (v == m1) | (v == m2) | (v == m3)
        out[i] = np.nan if hit else v


def wide_counts(X, pos, kind, top):
    """Cells of X (k, n) that the checks of a wide module would flag, per column.

    Only households with a module row (pos >= 0) count. kind 0: any value; 1: whole days
    0..top; 2: 0/1. Returns (k, 3) int64: missing, out of range (kind 1 or 2), negative.
    Callers list the cells of a column only when its count is not zero, so clean modules
    cost one pass (by row ranges on the available threads).
    """
    from rima._kernels.threads import row_ranges, run_ranges

    ranges = row_ranges(X.shape[1])
    parts = np.zeros((len(ranges), X.shape[0], 3), dtype=np.int64)
    run_ranges(lambda i, a, b: _wide_counts_rows(X, pos, kind, top, a, b, parts[i]),
               X.shape[1], ranges)
    return parts.sum(axis=0)


@njit(cache=True, nogil=True)
def _wide_counts_rows(X, pos, kind, top, a, b, out):
    """`wide_counts` of rows a .. b - 1 into out (k, 3)."""
    k = X.shape[0]
    p = pos[a:b]
    # pos < 0 is rare (households without a row): counted apart so that the main loop
    # is branch-free (survey answers are unpredictable for the branch predictor)
    skip = 0
    for i in range(p.shape[0]):
        skip += p[i] < 0
    for j in range(k):
        xj = X[j][a:b]
        miss, bad, neg = _cell_counts(xj, kind, top)
        if skip:
            # take back what the households without a row contributed
            for i in range(p.shape[0]):
                if p[i] < 0:
                    x = xj[i]
                    m = np.isnan(x)
                    bd = _outside_domain(x, kind, top)
                    miss -= m
                    bad -= bd & (not m)
                    neg -= x < 0
        out[j, 0] = miss
        out[j, 1] = bad
        out[j, 2] = neg


@njit(nogil=True)
def _cell_counts(x, kind, top):
    """(missing, outside the cell rule, negative) cells of x; one branch-free loop per
    rule (vector instructions: a loop from 0 over a slice, as an index that could be
    negative makes numba wrap it around, which the compiler cannot vectorise)."""
    miss = 0
    bad = 0
    neg = 0
    n = x.shape[0]
    if kind == 1:
        for i in range(n):
            v = x[i]
            m = np.isnan(v)
            miss += np.int64(m)
            bad += np.int64(((v < 0) | (v > top) | (v != np.floor(v))) & ~m)
            neg += np.int64(v < 0)
    elif kind == 2:
        for i in range(n):
            v = x[i]
            m = np.isnan(v)
            miss += np.int64(m)
            bad += np.int64((v != 0) & (v != 1) & ~m)
            neg += np.int64(v < 0)
    else:
        for i in range(n):
            v = x[i]
            miss += np.int64(np.isnan(v))
            neg += np.int64(v < 0)
    return miss, bad, neg


def positive_counts(X, out):
    """out (n,) = the number of columns of X (k, n) above 0 in each household (NaN is
    not above 0), by row ranges on the available threads."""
    from rima._kernels.threads import run_ranges

    run_ranges(lambda i, a, b: _positive_counts_rows(X, out, a, b), X.shape[1])


@njit(cache=True, nogil=True)
def _positive_counts_rows(X, out, a, b):
    k = X.shape[0]
    o = out[a:b]  # loops from 0 over slices: see _cell_counts
    for i in range(o.shape[0]):
        o[i] = 0.0
    for j in range(k):
        x = X[j][a:b]
        for i in range(o.shape[0]):
            o[i] += 1.0 if x[i] > 0 else 0.0


def equivalence_scale(adults, children, first, other, child):
    """first + other * (adults - 1) + child * children per household, the first term 0
    without an adult (float64), from the roster's counts, by row ranges on the available
    threads in one pass (a chain of numpy steps wrote five arrays)."""
    from rima._kernels.threads import run_ranges

    out = np.empty(adults.shape[0])
    run_ranges(lambda i, a, b: _adult_equivalents_rows(adults[a:b], children[a:b], first,
                                                       other, child, out[a:b]),
               out.shape[0])
    return out


@njit(cache=True, nogil=True)
def _adult_equivalents_rows(adults, children, first, other, child, out):
    for i in range(out.shape[0]):
        a = adults[i]
        v = (np.float64(a) - 1.0) * other + first
        out[i] = (0.0 if a <= 0 else v) + np.float64(children[i]) * child


def count_ratio(x, y, den):
    """(x + y) / den per household from the roster's counts, NaN where den is 0 (float64),
    by row ranges on the available threads in one pass."""
    from rima._kernels.threads import run_ranges

    out = np.empty(den.shape[0])
    run_ranges(lambda i, a, b: _count_ratio_rows(x[a:b], y[a:b], den[a:b], out[a:b]),
               out.shape[0])
    return out


@njit(cache=True, nogil=True, error_model="numpy")
def _count_ratio_rows(x, y, den, out):
    for i in range(out.shape[0]):
        d = den[i]
        q = (np.float64(x[i]) + np.float64(y[i])) / np.float64(d)
        out[i] = q if d > 0 else np.nan


@njit(cache=True, nogil=True)
def head_flags(x, miss, code):
    """1 where x equals the head code, 0 where not, -1 where x is missing (int8)."""
    n = x.shape[0]
    out = np.empty(n, dtype=np.int8)
    for i in range(n):
        v = _num(x, i, miss)
        if np.isnan(v):
            out[i] = -1
        elif v == code:
            out[i] = 1
        else:
            out[i] = 0
    return out


@njit(cache=True, nogil=True)
def group_sum(codes, x, miss, bounds, sums, checks, b0, b1):
    """sums (G,) += x by group over the rows of blocks b0 .. b1 - 1 (rows bounds[b] ..
    bounds[b + 1] - 1; no household in two blocks), NaN and missing codes skipped;
    checks[b] (n_blocks, 2) counts block b's missing and negative values among the rows
    mapped to a household. An infinite value is summed: the caller finds it from its
    household's sum (counting it here: 5.6 against 2.3 ms per 3,000,000 rows)."""
    for b in range(b0, b1):
        n_miss = 0
        neg = 0
        lo = bounds[b]
        cs = codes[lo:bounds[b + 1]]  # loops from 0 over slices: see _cell_counts
        xs = x[lo:bounds[b + 1]]
        for i in range(cs.shape[0]):
            g = cs[i]
            if g < 0:
                continue
            v = _num(xs, i, miss)
            m = np.isnan(v)
            n_miss += m
            neg += v < 0
            if not m:
                sums[g] += v
        checks[b, 0] += n_miss
        checks[b, 1] += neg


@njit(cache=True, nogil=True)
def group_sum_split(codes, x, miss, part, bounds, total, sub, checks, b0, b1):
    """Sums of x by group, over all rows and over the rows where `part` is true (NaN
    skipped), added to total and sub: e.g. all income and livestock income in one pass.
    Blocks and checks (missing, negative) as `group_sum`."""
    for b in range(b0, b1):
        n_miss = 0
        neg = 0
        lo = bounds[b]
        cs = codes[lo:bounds[b + 1]]  # loops from 0 over slices: see _cell_counts
        xs = x[lo:bounds[b + 1]]
        ps = part[lo:bounds[b + 1]]
        for i in range(cs.shape[0]):
            g = cs[i]
            if g < 0:
                continue
            v = _num(xs, i, miss)
            m = np.isnan(v)
            n_miss += m
            neg += v < 0
            if not m:
                total[g] += v
                if ps[i]:
                    sub[g] += v
        checks[b, 0] += n_miss
        checks[b, 1] += neg


@njit(cache=True, nogil=True)
def group_sum_product(codes, a, a_miss, c, c_miss, bounds, sums, checks, b0, b1):
    """sums (G,) += a * c by group (quantity x unit value); a row with a missing factor
    adds nothing. Blocks as `group_sum`; checks (n_blocks, 4): missing and negative
    values of a, then of c, among the rows mapped to a household. A product of two
    present factors is summed even when NaN (an infinite quantity times a zero price),
    so that the household's sum shows it."""
    for b in range(b0, b1):
        a_m = 0
        a_n = 0
        c_m = 0
        c_n = 0
        lo = bounds[b]
        cs = codes[lo:bounds[b + 1]]  # loops from 0 over slices: see _cell_counts
        as_ = a[lo:bounds[b + 1]]
        cv = c[lo:bounds[b + 1]]
        for i in range(cs.shape[0]):
            g = cs[i]
            if g < 0:
                continue
            u = _num(as_, i, a_miss)
            w = _num(cv, i, c_miss)
            a_m += np.isnan(u)
            a_n += u < 0
            c_m += np.isnan(w)
            c_n += w < 0
            if not (np.isnan(u) | np.isnan(w)):
                sums[g] += u * w
        checks[b, 0] += a_m
        checks[b, 1] += a_n
        checks[b, 2] += c_m
        checks[b, 3] += c_n


@njit(cache=True, nogil=True)
def take_float(x, miss, rows, out):
    """out = x at `rows` as float64 (NaN where missing or a missing code, and where a row
    is -1: none); out is the caller's (numpy's allocation of a large array is cheaper to
    fault in than the kernel's)."""
    for j in range(rows.shape[0]):
        r = rows[j]
        out[j] = _num(x, r, miss) if r >= 0 else np.nan


@njit(cache=True, nogil=True)
def wide_add(total, x, miss, pos, aligned, w, kind, top, counts):
    """total += w * x per household, from one column of a one-row-per-household module,
    counting the cells the checks would flag (see `wide_counts`) into counts (3,).

    x (m,) the column as stored (NaN or a code of miss = missing); pos (n,) the module
    row of each household (-1: none, its total becomes NaN); aligned: row i is household
    i (pos is not read). A missing value makes the total NaN.
    """
    if aligned and miss.shape[0] <= 4:
        # the usual case (row i is household i, at most 4 missing codes) in a loop the
        # compiler turns into vector instructions: no branch on the cell, no loop over
        # the codes (absent codes are NaN, which equals nothing)
        m = np.full(4, np.nan)
        # element by element: a slice assignment compiles numba's shape-mismatch message
        # (string formatting, about 1.5 s of a first run)
        for t in range(miss.shape[0]):
            m[t] = miss[t]
        miss_n, bad_n, neg_n = _add_cells(total, x, m[0], m[1], m[2], m[3], w, kind, top)
        counts[0] += miss_n
        counts[1] += bad_n
        counts[2] += neg_n
        return
    miss_n = 0
    bad_n = 0
    neg_n = 0
    for i in range(total.shape[0]):
        if aligned:
            r = i
        else:
            r = pos[i]
            if r < 0:
                total[i] = np.nan
                continue
        v = _num(x, r, miss)
        m = np.isnan(v)
        b = _outside_domain(v, kind, top)
        miss_n += m
        bad_n += b & (not m)
        neg_n += v < 0
        total[i] += w * v
    counts[0] += miss_n
    counts[1] += bad_n
    counts[2] += neg_n


@njit(nogil=True, error_model="numpy")
def _add_cells(total, x, m0, m1, m2, m3, w, kind, top):
    """`wide_add`'s loop for row i = household i with the missing codes m0 .. m3 (NaN
    where fewer): (missing, out of range, negative) counts. One loop per cell rule, each
    without branches, so that it runs on vector instructions."""
    miss_n = 0
    bad_n = 0
    neg_n = 0
    n = total.shape[0]
    if kind == 1:
        for i in range(n):
            v = np.float64(x[i])
            m = np.isnan(v) | (v == m0) | (v == m1) | (v == m2) | (v == m3)
            b = (v < 0) | (v > top) | (v != np.floor(v))
            miss_n += np.int64(m)
            bad_n += np.int64(b & ~m)
            neg_n += np.int64((v < 0) & ~m)
            total[i] += w * (np.nan if m else v)
    elif kind == 2:
        for i in range(n):
            v = np.float64(x[i])
            m = np.isnan(v) | (v == m0) | (v == m1) | (v == m2) | (v == m3)
            b = (v != 0) & (v != 1)
            miss_n += np.int64(m)
            bad_n += np.int64(b & ~m)
            neg_n += np.int64((v < 0) & ~m)
            total[i] += w * (np.nan if m else v)
    else:
        for i in range(n):
            v = np.float64(x[i])
            m = np.isnan(v) | (v == m0) | (v == m1) | (v == m2) | (v == m3)
            miss_n += np.int64(m)
            neg_n += np.int64((v < 0) & ~m)
            total[i] += w * (np.nan if m else v)
    return miss_n, bad_n, neg_n


# Below this many values `count_not_finite` counts with numpy: a small build (the demo's)
# then compiles no kernel for it on a first run.
NOT_FINITE_KERNEL_ROWS = 65_536


def count_not_finite(values, codes) -> int:
    """The values that are NaN or infinite where their status code is 0 (ok; codes of
    length 0: every value ok)."""
    if values.shape[0] < NOT_FINITE_KERNEL_ROWS:
        bad = ~np.isfinite(values)
        return int(np.count_nonzero(bad if codes.shape[0] == 0 else bad & (codes == 0)))
    return _count_not_finite(values, codes)


@njit(cache=True, nogil=True)
def _count_not_finite(values, codes):
    n = 0
    if codes.shape[0] == 0:
        for i in range(values.shape[0]):
            n += not np.isfinite(values[i])
    else:
        for i in range(values.shape[0]):
            n += (codes[i] == 0) & (not np.isfinite(values[i]))
    return n


@njit(cache=True, nogil=True)
def first_status(overall, codes, base):
    """overall[i] = base + codes[i] where overall[i] is still 0 (ok) and codes[i] > 0:
    each household keeps the first variable's reason. Returns how many were set."""
    n_set = 0
    for i in range(overall.shape[0]):
        c = codes[i]
        if c > 0 and overall[i] == 0:
            overall[i] = base + c
            n_set += 1
    return n_set


@njit(cache=True, nogil=True)
def code_summary(codes):
    """(rows with code < 0, True when codes[i] == i for every row, True when the codes
    never decrease: each household's rows are then one run, and blocks of runs can be
    aggregated apart) in one pass."""
    lost = 0
    identity = True
    falls = 0
    for i in range(codes.shape[0]):
        c = codes[i]
        lost += c < 0
        identity &= c == i
        # comparisons, not a running maximum: the loop stays free of a carried value
        falls += (i > 0) & (c < codes[max(i - 1, 0)])
    return lost, identity, falls == 0
