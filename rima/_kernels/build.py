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
def dense_table(keys, lo, span):
    """Position of each household id in `keys` (int64) in a table indexed by id - lo.

    Returns (table (span,) int64 with -1 where no household, first duplicate position or
    -1): a repeated household id is reported, the first occurrence keeps the table slot.
    """
    table = np.full(span, -1, dtype=np.int64)
    dup = -1
    for i in range(keys.shape[0]):
        j = keys[i] - lo
        if table[j] >= 0:
            if dup < 0:
                dup = i
        else:
            table[j] = i
    return table, dup


@njit(cache=True, nogil=True)
def dense_lookup(keys, lo, table, out):
    """Household position of each module row into out (-1: id not in the household
    table); out may be int32 (half the memory of int64 for the largest modules)."""
    n = keys.shape[0]
    span = table.shape[0]
    for i in range(n):
        j = keys[i] - lo
        if j < 0 or j >= span:
            out[i] = -1
        else:
            out[i] = table[j]


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


@njit(cache=True, nogil=True)
def group_sum(codes, n_groups, x, miss):
    """Sum and non-missing count of one column by group (NaN and missing codes
    skipped)."""
    s = np.zeros(n_groups)
    c = np.zeros(n_groups, dtype=np.int64)
    for i in range(codes.shape[0]):
        g = codes[i]
        if g >= 0:
            v = _num(x, i, miss)
            if not np.isnan(v):
                s[g] += v
                c[g] += 1
    return s, c


@njit(cache=True, nogil=True, error_model="numpy")
def roster_pass(codes, n_groups, age, age_miss, head, edu, edu_miss, ages):
    """Everything the roster recipes need, in one pass over the person rows.

    codes (n,) household position of each person (-1: left out); age (n,) (NaN or a
    code of age_miss = missing); head (n,) int8 1 = head of household, 0 = not, -1 =
    relation missing; edu (n,) years or level (NaN or a code of edu_miss = missing).
    ages (6,) float: adult_age (AE adult from this age), young_below, old_above,
    max_age, working_low, working_high (working age: working_low <= age <= working_high).

    Returns C (G, 11) int32 counts: members, heads, adults, children, young, old, working,
    ages missing, ages out of range (< 0 or > max_age), relation missing, education
    missing among adults; head_row (G,) source row of the first head (-1 none);
    max_adult_edu (G,) (NaN when no adult has one).
    """
    adult_age, young_below, old_above, max_age, work_lo, work_hi = (
        ages[0], ages[1], ages[2], ages[3], ages[4], ages[5])
    G = n_groups
    # stored count by count, so that each count (a column of the returned C) is
    # contiguous for the recipes that read it
    Ct = np.zeros((11, G), dtype=np.int32)
    head_row = np.full(G, -1, dtype=np.int64)
    max_edu = np.full(G, -np.inf)
    # ages and education are unpredictable for the branch predictor: the counts add
    # 0/1 conditions instead of branching on them
    for i in range(codes.shape[0]):
        g = codes[i]
        if g < 0:
            continue
        Ct[0, g] += 1
        h = head[i]
        if h == 1:
            Ct[1, g] += 1
            if head_row[g] < 0:
                head_row[g] = i
        elif h < 0:
            Ct[9, g] += 1
        a = _num(age, i, age_miss)
        no_age = np.isnan(a)
        valid = (a >= 0) & (a <= max_age)  # False for NaN
        adult = valid & (a >= adult_age)
        Ct[7, g] += no_age
        Ct[8, g] += (not no_age) & (not valid)
        Ct[2, g] += adult
        Ct[3, g] += valid & (not adult)
        Ct[4, g] += valid & (a < young_below)
        Ct[5, g] += valid & (a > old_above)
        Ct[6, g] += valid & (a >= work_lo) & (a <= work_hi)
        e = _num(edu, i, edu_miss)
        no_edu = np.isnan(e)
        Ct[10, g] += adult & no_edu
        max_edu[g] = max(max_edu[g], e if adult & (not no_edu) else -np.inf)
    for g in range(G):
        if max_edu[g] == -np.inf:
            max_edu[g] = np.nan
    return Ct.T, head_row, max_edu


@njit(cache=True, nogil=True)
def units_pass(codes, n_groups, sp_codes, sp_map, x, miss, units):
    """Herd in units by household in one pass over a long livestock module.

    codes (n,) household of each row (-1 left out); sp_codes (n,) each row's name among
    the distinct names (-1 missing) and sp_map the species index of each name (-1
    unknown) followed by -2, the index of a missing name; x (n,) head counted (NaN or a code of miss = missing); units
    (S,) units per head of each species.
    Rows with an unknown or missing species, a missing or a negative count are not summed.
    Returns sums (G,) and counts (4,) of the rows left out for each reason among the
    households' rows: unknown species, missing species, missing count, negative count.
    """
    sums = np.zeros(n_groups)
    bad = np.zeros(4, dtype=np.int64)
    for i in range(codes.shape[0]):
        g = codes[i]
        if g < 0:
            continue
        c = sp_codes[i]
        s = sp_map[c if c >= 0 else sp_map.shape[0] - 1]
        v = _num(x, i, miss)
        if s == -1:
            bad[0] += 1
        elif s == -2:
            bad[1] += 1
        elif np.isnan(v):
            bad[2] += 1
        elif v < 0:
            bad[3] += 1
        else:
            sums[g] += v * units[s]
    return sums, bad


@njit(cache=True, nogil=True)
def to_float(x, codes, out):
    """x (any numeric dtype) as float64 into `out`, cells equal to one of `codes`
    (float64) set to NaN: one pass instead of a conversion and a comparison per code."""
    for i in range(x.shape[0]):
        out[i] = _num(x, i, codes)


@njit(cache=True, nogil=True)
def wide_counts(X, pos, kind, top):
    """Cells of X (k, n) that the checks of a wide module would flag, per column.

    Only households with a module row (pos >= 0) count. kind 0: any value; 1: whole days
    0..top; 2: 0/1. Returns (k, 3) int64: missing, out of range (kind 1 or 2), negative.
    Callers list the cells of a column only when its count is not zero, so clean modules
    cost one pass.
    """
    k, n = X.shape
    out = np.zeros((k, 3), dtype=np.int64)
    # pos < 0 is rare (households without a row): counted apart so that the main loop
    # is branch-free (survey answers are unpredictable for the branch predictor)
    skip = 0
    for i in range(n):
        skip += pos[i] < 0
    for j in range(k):
        miss = 0
        bad = 0
        neg = 0
        for i in range(n):
            x = X[j, i]
            m = np.isnan(x)
            b = _outside_domain(x, kind, top)
            miss += m
            bad += b & (not m)
            neg += x < 0
        if skip:
            # take back what the households without a row contributed
            for i in range(n):
                if pos[i] < 0:
                    x = X[j, i]
                    m = np.isnan(x)
                    b = _outside_domain(x, kind, top)
                    miss -= m
                    bad -= b & (not m)
                    neg -= x < 0
        out[j, 0] = miss
        out[j, 1] = bad
        out[j, 2] = neg
    return out


@njit(cache=True, nogil=True)
def row_counts(codes, x, miss):
    """Missing and negative values of x among the rows mapped to a household
    (codes >= 0): (missing, negative)."""
    n_miss = 0
    neg = 0
    for i in range(codes.shape[0]):
        if codes[i] < 0:
            continue
        v = _num(x, i, miss)
        if np.isnan(v):
            n_miss += 1
        elif v < 0:
            neg += 1
    return n_miss, neg


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
def group_sum_split(codes, n_groups, x, miss, part):
    """Sums of x by group, over all rows and over the rows where `part` is true (NaN
    skipped): (total, part_total); e.g. all income and livestock income in one pass."""
    total = np.zeros(n_groups)
    sub = np.zeros(n_groups)
    for i in range(codes.shape[0]):
        g = codes[i]
        if g >= 0:
            v = _num(x, i, miss)
            if not np.isnan(v):
                total[g] += v
                if part[i]:
                    sub[g] += v
    return total, sub


@njit(cache=True, nogil=True)
def group_sum_product(codes, n_groups, a, a_miss, b, b_miss):
    """Sum of a * b by group (quantity x unit value); a row with a missing factor adds
    nothing."""
    s = np.zeros(n_groups)
    for i in range(codes.shape[0]):
        g = codes[i]
        if g >= 0:
            v = _num(a, i, a_miss) * _num(b, i, b_miss)
            if not np.isnan(v):
                s[g] += v
    return s


@njit(cache=True, nogil=True)
def take_float(x, miss, rows):
    """x at `rows` as float64 (NaN where missing or a missing code)."""
    out = np.empty(rows.shape[0])
    for j in range(rows.shape[0]):
        out[j] = _num(x, rows[j], miss)
    return out


@njit(cache=True, nogil=True)
def wide_add(total, x, miss, pos, aligned, w, kind, top, counts):
    """total += w * x per household, from one column of a one-row-per-household module,
    counting the cells the checks would flag (see `wide_counts`) into counts (3,).

    x (m,) the column as stored (NaN or a code of miss = missing); pos (n,) the module
    row of each household (-1: none, its total becomes NaN); aligned: row i is household
    i (pos is not read). A missing value makes the total NaN.
    """
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
    """(rows with code < 0, True when codes[i] == i for every row) in one pass."""
    lost = 0
    identity = True
    for i in range(codes.shape[0]):
        c = codes[i]
        lost += c < 0
        identity &= c == i
    return lost, identity
