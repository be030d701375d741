"""Passes over data columns held as the rows of one (q, n) float64 block.

`rima.validate` converts every numeric column of the spec once into such a block; the fit
then reads its variables, indicators and weight straight from it. Keeping each column
contiguous makes every pass here a streaming read, with no n x q temporary.

* `convert_column`: the conversion of one column into its row of the block, checked in
  the same pass: count, range and sum of its finite values, and per row a bit mask of the
  columns missing in it (the row accounting of `rima.validate` is one reason per mask);
* `constant_over_usable`: whether a column is constant over the usable rows;
* `gather_rows`: the analysed rows of some columns as one row-major matrix (the MIMIC's
  input);
* `column_digests`: the 64-bit column digests behind the training-data fingerprint of
  `rima.fingerprint.fingerprint`.

Rows are cut into fixed blocks whose partial results are merged in block order, so the
results never depend on the number of threads; `rima.config.run_blocks` spreads ranges of
blocks over threads (the block loops release the GIL).
"""

import numpy as np
from numba import njit

from rima._kernels.threads import current_threads, run_blocks, run_tasks, threads_needed

BLOCK = 4096

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_NAN_BITS = np.uint64(0x7FF8000000000000)
_EXP = np.uint64(0x7FF0000000000000)
_FRAC = np.uint64(0x000FFFFFFFFFFFFF)


def read_only(a):
    """A read-only view of `a`: the kernels then see one array type whether the caller's
    array is writable or not (pandas' copy-on-write columns are read-only), and are
    compiled once instead of twice."""
    v = a.view()
    v.flags.writeable = False
    return v


def convert_column(src, out, keys, word, bit, total=True):
    """Copy one column `src` (int64 or float64) into `out` as float64 and check it.

    Infinite values become NaN in `out`; every row whose value is missing or infinite
    gets `bit` set in keys[row, word]. Returns (count of finite values, count of infinite
    values, min, max, sum of the finite values); an empty range is (inf, -inf). With
    `total=False` the sum is left out (NaN): the validation summary alone shows it, and
    `finite_total` gives it when asked for, the same bits.
    """
    n = src.shape[0]
    nb = (n + BLOCK - 1) // BLOCK
    cnt = np.zeros(nb, dtype=np.int64)
    ninf = np.zeros(nb, dtype=np.int64)
    vmin = np.full(nb, np.inf)
    vmax = np.full(nb, -np.inf)
    src = read_only(src)
    run_blocks(_convert_blocks, nb, n, src, out, keys, word, bit, cnt, ninf, vmin, vmax)
    count, n_inf, lo, hi = _merge_stats(cnt, ninf, vmin, vmax)
    return count, n_inf, lo, hi, finite_total(out) if total else np.nan


def convert_columns(sources, out, keys):
    """`convert_column` of every source j into out[j] (bit j % 64 of word j // 64 of
    keys), the same bits: each thread takes a range of row blocks and converts every
    column over it, so no thread waits for the others at the end of each column and no
    two threads write the same row's mask. Returns (count, n_infinite, min, max), one
    entry per column."""
    q = len(sources)
    n = out.shape[1]
    nb = (n + BLOCK - 1) // BLOCK
    cnt = np.zeros((q, nb), dtype=np.int64)
    ninf = np.zeros((q, nb), dtype=np.int64)
    vmin = np.full((q, nb), np.inf)
    vmax = np.full((q, nb), -np.inf)
    sources = [read_only(src) for src in sources]
    # a few ranges per thread (one on a single thread), each a call of the block kernel
    # per column
    t = min(current_threads(), threads_needed(n))
    n_ranges = min(nb, 4 * t if t > 1 else 1)
    step = -(-nb // n_ranges) if n_ranges else 0

    def task(i, slot):
        b0 = i * step
        b1 = min(nb, b0 + step)
        for j in range(q):
            _convert_blocks(sources[j], out[j], keys, j // 64,
                            np.uint64(1) << np.uint64(j % 64), cnt[j], ninf[j], vmin[j],
                            vmax[j], b0, b1)

    run_tasks(task, n_ranges, n)
    stats = [_merge_stats(cnt[j], ninf[j], vmin[j], vmax[j]) for j in range(q)]
    return (np.array([s[0] for s in stats], dtype=np.int64),
            np.array([s[1] for s in stats], dtype=np.int64),
            np.array([s[2] for s in stats], dtype=np.float64),
            np.array([s[3] for s in stats], dtype=np.float64))


_KEY_MAX = np.iinfo(np.int64).max
_KEY_MIN = np.iinfo(np.int64).min
_MAGNITUDE = np.int64(0x7FFFFFFFFFFFFFFF)
_INF_BITS = np.int64(0x7FF0000000000000)


@njit(cache=True, nogil=True)
def _convert_blocks(src, out, keys, word, bit, cnt, ninf, vmin, vmax, b0, b1):
    n = src.shape[0]
    for b in range(b0, b1):
        lo = b * BLOCK
        hi = min(n, lo + BLOCK)
        L = hi - lo
        s = src[lo:hi]
        o = out[lo:hi]
        # no running sum here: only the validation summary shows it (`finite_total`
        # adds the values when they are asked for). Branch-free, so the loop vectorises.
        c = 0
        for i in range(L):
            x = np.float64(s[i])
            finite = x - x == 0.0  # x - x is NaN for NaN and +-inf
            c += finite
            o[i] = x if (finite or x != x) else np.nan
        # the range of the finite values through an integer key of each value's bits that
        # sorts as the values do (NaN, and so the infinities made NaN above, outside it):
        # integer min and max vectorise, a float one that skips NaN does not (about three
        # times faster for the whole pass)
        u = o.view(np.int64)
        kmin = _KEY_MAX
        kmax = _KEY_MIN
        for i in range(L):
            bits = u[i]
            key = bits ^ ((bits >> 63) & _MAGNITUDE)
            not_number = (bits & _MAGNITUDE) > _INF_BITS
            kmin = min(kmin, _KEY_MAX if not_number else key)
            kmax = max(kmax, _KEY_MIN if not_number else key)
        ni = 0
        if c < L:
            # the rare rows missing a value: mark them (a store the main loop avoids)
            for i in range(L):
                x = np.float64(s[i])
                if not np.isfinite(x):
                    keys[lo + i, word] |= bit
                    if np.isinf(x):
                        ni += 1
        cnt[b] = c
        ninf[b] = ni
        if c:
            # each key back to its value's bits (the key map is its own inverse)
            vmin.view(np.int64)[b] = kmin ^ ((kmin >> 63) & _MAGNITUDE)
            vmax.view(np.int64)[b] = kmax ^ ((kmax >> 63) & _MAGNITUDE)
        else:
            vmin[b] = np.inf
            vmax[b] = -np.inf


def _merge_stats(cnt, ninf, vmin, vmax):
    # a few numbers per block: numpy here, no kernel to compile (integer sums and the
    # extremes are exact in any order)
    return int(cnt.sum()), int(ninf.sum()), float(vmin.min(initial=np.inf)), \
        float(vmax.max(initial=-np.inf))


def finite_total(v):
    """Sum of the finite values of `v` (float64): added in order within blocks of BLOCK
    values, the block sums then in block order (what the validation summary's means
    divide)."""
    v = read_only(np.ascontiguousarray(v, dtype=np.float64))
    n = v.shape[0]
    nb = (n + BLOCK - 1) // BLOCK
    tot = np.zeros(nb)
    run_blocks(_total_blocks, nb, n, v, tot)
    return _sum_in_order(tot)


@njit(cache=True, nogil=True)
def _total_blocks(v, tot, b0, b1):
    n = v.shape[0]
    for b in range(b0, b1):
        s = 0.0
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            x = v[i]
            if np.isfinite(x):
                s += x
        tot[b] = s


def _sum_in_order(tot):
    # the block totals added in block order (Python floats add as the kernels do; numpy's
    # sum would pair them differently)
    total = 0.0
    for t in tot.tolist():
        total += t
    return total


@njit(cache=True)
def constant_over_usable(v, keys):
    """(usable rows exist, v is constant over them, its value at the first usable row),
    a usable row being one with no bit set in `keys`. Stops at the first usable value that
    differs from the first, so a varying column costs a few rows."""
    n = v.shape[0]
    nw = keys.shape[1]
    first = -1
    x0 = np.nan
    for i in range(n):
        usable = True
        for k in range(nw):
            if keys[i, k] != 0:
                usable = False
                break
        if not usable:
            continue
        if first < 0:
            first = i
            x0 = v[i]
        elif v[i] != x0:
            return True, False, x0
    return first >= 0, first >= 0, x0


@njit(cache=True, inline="always")
def _mix(x):
    # a bijective 64-bit finaliser: every input bit affects every output bit
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


@njit(cache=True, inline="always")
def _bits(u):
    # every NaN is the same value to the fingerprint
    if (u & _EXP) == _EXP and (u & _FRAC) != np.uint64(0):
        return _NAN_BITS
    return u


def _mix_array(x):
    # `_mix` on a uint64 array (numpy's integer arithmetic wraps mod 2^64 as the kernel's)
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def digest_seeds(k):
    """The column seeds mix((c + 1) G), c = 0 .. k - 1 (numpy: a kernel for k numbers
    would only add to a first run's compile)."""
    return _mix_array(np.arange(1, k + 1, dtype=np.uint64) * _GOLDEN)


def column_digests(U, cols, rows, offset=0):
    """Digest of each column `cols[c]` of U (q, n), the uint64 bit patterns of a float64
    block, over the rows `rows` in that order:

        d_c = sum over t of mix(bits(x_t) ^ mix(t + 1) ^ mix((c + 1) * G))   (mod 2^64)

    with t the position in `rows`, x_t = U[cols[c], rows[t]], every NaN read as the one
    quiet NaN 0x7ff8000000000000, G = 0x9e3779b97f4a7c15 and mix the splitmix64
    finaliser. Each term is a bijection of the value at its position, so changing one
    value, or moving values between rows, changes the digest. A sum is order-free, so
    the blocks below may finish in any order, and rows read in parts (partitions) add up
    to the whole when each part gives `offset`, the rows before it.
    """
    k = cols.shape[0]
    m = rows.shape[0]
    nb = (m + BLOCK - 1) // BLOCK
    part = np.zeros((nb, k), dtype=np.uint64)
    run_blocks(_digest_blocks, nb, m, U, cols, rows, digest_seeds(k), np.int64(offset), part)
    return sum_digest_parts(part)


@njit(cache=True, nogil=True)
def _digest_blocks(U, cols, rows, seeds, offset, part, b0, b1):
    k = cols.shape[0]
    m = rows.shape[0]
    pt = np.empty(BLOCK, dtype=np.uint64)
    for b in range(b0, b1):
        lo = b * BLOCK
        L = min(m, lo + BLOCK) - lo
        for t in range(L):
            pt[t] = _mix(np.uint64(lo + t + 1 + offset))
        for c in range(k):
            u = U[cols[c]]
            s = seeds[c]
            acc = np.uint64(0)
            for t in range(L):
                acc += _mix(_bits(u[rows[lo + t]]) ^ pt[t] ^ s)
            part[b, c] = acc


@njit(cache=True, inline="always")
def digest_block(D, keep, at, seeds, pt, out):
    """out[c] = this block's terms of the digest of row c of D (k, L), float64 values, over
    the columns of D where keep (L,) is True, taking positions at, at + 1, ... in order
    (offset 0): the position terms once, then one row of D at a time, a loop of
    independent integer terms that vectorises (the sum is mod 2^64, so its order does not
    matter). A block read in place skips its rows left out this way; a gathered block
    keeps every column."""
    k, L = D.shape
    pos = at
    for t in range(L):
        pt[t] = _mix(np.uint64(pos + 1))
        pos += keep[t]
    U = D.view(np.uint64)
    zero = np.uint64(0)
    for c in range(k):
        s = seeds[c]
        acc = np.uint64(0)
        for t in range(L):
            term = _mix(_bits(U[c, t]) ^ pt[t] ^ s)
            acc += term if keep[t] else zero
        out[c] = acc


def sum_digest_parts(part):
    """The blocks' digest parts (nb, k) added per column, mod 2^64 (so in any order)."""
    return part.sum(axis=0, dtype=np.uint64)


def gather_rows(V, cols, rows, shift, div, out, col0, V2=None, cols2=None):
    """out[t, col0 + c] = (V[cols[c], rows[t]] - shift[c]) / div[c]: the rows `rows` of
    some columns of the block V (q, n) into columns of a row-major matrix (shift 0 and
    div 1 copy a value exactly). With a second block V2 (q2, n), its rows `cols2` are
    copied after them, out[t, col0 + len(cols) + c] = V2[cols2[c], rows[t]], in the same
    pass (each output row is written once).

    Row by row: each output row is written whole while the reads walk the columns'
    streams forward, which is much faster than a column at a time.
    """
    m = rows.shape[0]
    if V2 is None:
        V2, cols2 = np.empty((0, 0)), np.empty(0, dtype=np.int64)
    run_blocks(_gather_blocks, (m + BLOCK - 1) // BLOCK, m, V, cols, rows, shift, div, V2,
               cols2, out, col0)


@njit(cache=True, nogil=True)
def _gather_blocks(V, cols, rows, shift, div, V2, cols2, out, col0, b0, b1):
    k = cols.shape[0]
    k2 = cols2.shape[0]
    m = rows.shape[0]
    for b in range(b0, b1):
        for t in range(b * BLOCK, min(m, (b + 1) * BLOCK)):
            r = rows[t]
            for c in range(k):
                out[t, col0 + c] = (V[cols[c], r] - shift[c]) / div[c]
            for c in range(k2):
                out[t, col0 + k + c] = V2[cols2[c], r]


def mask_codes(keys, keep, scored):
    """Row status codes from one-word row masks in two passes over blocks of rows: the
    rows to report are those with scored[i] False (with `scored` empty: those whose
    masked key keys[i] & keep is not 0); code 0 for the others, else 1 + the rank of the
    row's masked key among the distinct keys reported, in increasing order (the order
    np.unique gives). Returns (codes (n,) int32, the distinct keys (u,) uint64).

    Each block collects its distinct keys in a small hash set, and the few distinct keys
    of all blocks are sorted here by numpy: no sort is compiled (numba's sort and unique
    took about 3 s of a first run's compile for a step that takes milliseconds)."""
    n = keys.shape[0]
    nb = (n + BLOCK - 1) // BLOCK
    use_scored = scored.shape[0] == n
    # room for a few distinct keys per block first: a block rarely has more, and room for
    # BLOCK keys per block is n keys of fresh memory (80 MB at 10 million rows); a block
    # with more stops short (-1) and the pass is run again with room for all
    for room in (min(FEW_KEYS, BLOCK), BLOCK):
        found = np.empty((nb, room), dtype=np.uint64)
        n_found = np.zeros(nb, dtype=np.int64)
        run_blocks(_distinct_key_blocks, nb, n, keys, keep, scored, use_scored, found,
                   n_found)
        if n_found.min(initial=0) >= 0:
            break
    ukeys = np.unique(found[np.arange(found.shape[1]) < n_found[:, None]])
    codes = np.empty(n, dtype=np.int32)
    run_blocks(_code_blocks, nb, n, keys, keep, scored, use_scored, ukeys, codes)
    return codes, ukeys


_SLOTS = 2 * BLOCK  # a power of two: the hash set of a block is at most half full
FEW_KEYS = 64


@njit(cache=True, nogil=True)
def _distinct_key_blocks(keys, keep, scored, use_scored, found, n_found, b0, b1):
    n = keys.shape[0]
    table = np.empty(_SLOTS, dtype=np.uint64)
    used = np.zeros(_SLOTS, dtype=np.bool_)
    slot = np.empty(BLOCK, dtype=np.uint64)
    mask = np.uint64(_SLOTS - 1)
    for b in range(b0, b1):
        lo = b * BLOCK
        hi = min(n, lo + BLOCK)
        u = 0
        for i in range(lo, hi):
            k = keys[i] & keep
            if (not scored[i]) if use_scored else k != 0:
                # open addressing with linear probing on the mixed key
                h = _mix(k) & mask
                while used[h] and table[h] != k:
                    h = (h + np.uint64(1)) & mask
                if not used[h]:
                    if u == found.shape[1]:
                        u = -1  # no room: the caller runs the pass again with more
                        break
                    used[h] = True
                    table[h] = k
                    slot[u] = h
                    found[b, u] = k
                    u += 1
        n_found[b] = u
        if u < 0:
            u = found.shape[1]
        for t in range(u):  # an empty set for the next block
            used[slot[t]] = False


@njit(cache=True, nogil=True)
def _code_blocks(keys, keep, scored, use_scored, ukeys, codes, b0, b1):
    n = keys.shape[0]
    for i in range(b0 * BLOCK, min(n, b1 * BLOCK)):
        k = keys[i] & keep
        if (not scored[i]) if use_scored else k != 0:
            # the key's rank among the sorted distinct keys (it is one of them)
            a = 0
            z = ukeys.shape[0] - 1
            while a < z:
                mid = (a + z) // 2
                if ukeys[mid] < k:
                    a = mid + 1
                else:
                    z = mid
            codes[i] = 1 + a
        else:
            codes[i] = 0
