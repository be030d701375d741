"""Saved models (`model.json`): everything needed to score new households exactly as the
fitted ones, through the same kernel (`rima._kernels.score.score_households`).

The file is JSON: floats are written with Python's shortest round-trip repr, so a loaded
model holds bit-identical arrays and reproduces the fitted scores exactly.

What protects a model file: a sha256 checksum of the canonical content (every key but
`checksum` and `signature`) detects truncation and accidental edits, but not a deliberate
edit, since anyone can recompute it; `rima.load` checks every field against the schema
(`rima.model_schema`), so no file can make scoring read past an array or divide by zero;
only a signature (`rima.signing`, `rima sign`) checked against a trusted key
(`load(path, trusted_keys=...)`) shows who wrote the file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from rima._kernels.columns import column_digests
from rima._kernels.score import score_households
from rima.columns import convert_rows, numeric_sources
from rima.errors import DataError, ModelFileError

# rows scored at a time by FittedModel.score
SCORE_CHUNK = 1 << 17

FORMAT = "rima-model"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)
OUTPUT_COLUMNS = ("RCI", "RCI_100", "status", "out_of_range")
FINGERPRINT = "rima-fp2"


def _canonical(content: dict) -> bytes:
    from rima.signing import canonical

    return canonical(content)


def fingerprint(matrix: np.ndarray) -> str:
    """Fingerprint of an (n, p) analysed matrix: the hex sha256 of the text
    "rima-fp2:{n}x{p}:" followed by the p column digests of
    `rima._kernels.columns.column_digests` (uint64, little endian), one per column in order.

    Each digest sums a 64-bit mix of every value's IEEE bits with its row position, so it
    changes when any value changes or rows move; it reads the data once in parallel, at
    memory speed, where hashing the bytes themselves would cost more than the fit. Every
    NaN counts as the same value; -0.0 and 0.0 differ.
    """
    a = np.asarray(matrix, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"fingerprint needs a 2-D matrix, got {a.ndim} dimension(s)")
    V = np.ascontiguousarray(a.T)
    return fingerprint_columns(V, np.arange(a.shape[1]), np.arange(a.shape[0]))


def fingerprint_columns(V: np.ndarray, cols, rows) -> str:
    """`fingerprint` of the matrix V[cols][:, rows].T without building it: V (q, n) holds
    one column per row (the layout of `rima.validate`'s float block)."""
    V = np.ascontiguousarray(V, dtype=np.float64)
    cols = np.ascontiguousarray(cols, dtype=np.int64)
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    return fingerprint_digests(rows.shape[0], column_digests(V.view(np.uint64), cols, rows))


def fingerprint_digests(n_rows: int, digests) -> str:
    """`fingerprint` from the column digests of an (n_rows, len(digests)) matrix."""
    digests = np.asarray(digests, dtype=np.uint64)
    h = hashlib.sha256(f"{FINGERPRINT}:{int(n_rows)}x{digests.shape[0]}:".encode())
    h.update(digests.astype("<u8").tobytes())
    return h.hexdigest()


class FittedModel:
    """A fitted RIMA-II model that scores new households on the training scale.

    Learned arrays (see `rima._kernels.score`): variables, mean_, scale_, weights_ (p, K),
    member_ (p, K), indicators, ymean_, ysd_, icpt_, cx_, cy_, scale_range_ (lo, hi).
    """

    def __init__(self, *, spec_dict, options, pillar_names, variables, mean, scale, weights,
                 member, indicators, ymean, ysd, icpt, cx, cy, lo, hi, orientation,
                 prediction, mimic, metadata, signed_by=None):
        from rima.spec import load_spec

        self.spec_dict = spec_dict
        self.spec = load_spec(spec_dict)
        self.options = options
        self.pillar_names = list(pillar_names)
        self.variables = list(variables)
        self.mean_ = np.asarray(mean, dtype=float)
        self.scale_ = np.asarray(scale, dtype=float)
        self.weights_ = np.asarray(weights, dtype=float).reshape(len(self.variables), -1)
        self.member_ = np.asarray(member, dtype=bool).reshape(self.weights_.shape)
        self.indicators = list(indicators)
        self.ymean_ = np.asarray(ymean, dtype=float)
        self.ysd_ = np.asarray(ysd, dtype=float)
        npat = 2 ** len(self.indicators)
        self.icpt_ = np.asarray(icpt, dtype=float).reshape(npat)
        self.cx_ = np.asarray(cx, dtype=float).reshape(npat, len(self.pillar_names))
        self.cy_ = np.asarray(cy, dtype=float).reshape(npat, len(self.indicators))
        self.scale_range_ = (float(lo), float(hi))
        self.orientation = orientation
        self.prediction = prediction
        self.mimic = mimic
        self.metadata = metadata
        # key_id of the trusted key that signed the loaded file (None: not checked)
        self.signed_by = signed_by

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def required_columns(self) -> list[str]:
        need = [self.id, *self.variables]
        if self.prediction != "causes":
            need += self.indicators
        return need

    # ------------------------------------------------------------------ scoring
    def score_arrays(self, X, Y, out=None, at=0):
        """(pillars (n, K), rci, rci_100) of arrays in the model's column order; `out` and
        `at` write them into rows of larger arrays (`score_households`)."""
        lo, hi = self.scale_range_
        return score_households(X, self.mean_, self.scale_, self.weights_, self.member_, Y,
                                self.ymean_, self.ysd_, self.icpt_, self.cx_, self.cy_, lo, hi,
                                out=out, at=at)

    def score_batch(self, X, Y, out=None, at=0, missing=None):
        """Score arrays in the model's column order (`variables`, `indicators`; NaN =
        missing): (pillars (n, K), rci, rci_100, status codes (n,) int32, reasons) with
        status = reasons[code] and reasons[0] == "ok". `score` and the streaming scorer
        (`rima.streaming`) both go through here; `out` and `at` as in `score_arrays`.
        `missing`: the rows' missing cells as `pack_keys` bit masks over the variables
        then the indicators, when the caller recorded them while converting."""
        pillars, rci, rci100 = self.score_arrays(X, Y, out, at)
        n = X.shape[0]
        P, r, r100 = pillars, rci, rci100  # views of the rows just scored
        use_y = self.prediction != "causes"
        needed = self.variables + (self.indicators if use_y else [])
        bad = np.flatnonzero(~(np.isfinite(r) & np.isfinite(r100)))
        if missing is None:
            miss = np.isnan(X[bad])
            if use_y:
                miss = np.concatenate([miss, np.isnan(Y[bad])], axis=1)
            keys = pack_keys(miss)
        else:
            keys = missing[bad]
        partial = ([c for c in self.indicators if c in needed]
                   if self.options.get("missing") == "fiml" else ())
        codes, reasons = status_codes_from_keys(n, bad, keys, needed, partial)
        if bad.size:
            self._name_nonfinite(X, Y if use_y else None, bad, codes, reasons)
            # a row that is not "ok" carries no score that is not finite
            r[bad] = np.nan
            r100[bad] = np.nan
            Pb = P[bad]
            Pb[~np.isfinite(Pb)] = np.nan
            P[bad] = Pb
        return pillars, rci, rci100, codes, reasons

    def _name_nonfinite(self, X, Y, bad, codes, reasons):
        """Rows that missed no value yet got no finite score: an infinite or huge input
        overflowed. Their status names the column and the value, instead of "not scored"
        or an "ok" beside inf."""
        for k in np.flatnonzero(codes[bad] > 0):
            i = int(bad[k])
            if reasons[codes[i]] != "not scored":
                continue
            x = np.asarray(X[i], dtype=float)
            names = list(self.variables)
            with np.errstate(all="ignore"):
                z = (x - self.mean_) / self.scale_ * np.abs(self.weights_).max(axis=1)
                if Y is not None:
                    y = np.asarray(Y[i], dtype=float)
                    x = np.concatenate([x, y])
                    z = np.concatenate([z, (y - self.ymean_) / self.ysd_])
                    names += list(self.indicators)
                j = np.flatnonzero(~np.isfinite(x))
                if not j.size:
                    j = np.flatnonzero(~np.isfinite(z))
                if not j.size:
                    j = [int(np.nanargmax(np.abs(z)))] if np.isfinite(z).any() else [0]
            c = int(j[0])
            msg = f"value {float(x[c])!r} in {names[c]} gives a score that is not finite"
            if msg not in reasons:
                reasons.append(msg)
            codes[i] = reasons.index(msg)

    def score(self, df: pd.DataFrame) -> pd.DataFrame:
        """id, pillars, RCI, RCI_100, status and `out_of_range` for every row of `df`."""
        if not isinstance(df, pd.DataFrame):
            raise DataError(f"score needs a pandas DataFrame, got {type(df).__name__}")
        if isinstance(df.columns, pd.MultiIndex):
            raise DataError(f"the data has {df.columns.nlevels}-level column names "
                            "(a MultiIndex); flatten them to one name per column first, e.g. "
                            "df.columns = ['_'.join(map(str, c)) for c in df.columns]")
        from rima.io import check_unique_columns

        check_unique_columns([str(c) for c in df.columns])
        missing = [c for c in self.required_columns if c not in df.columns]
        if missing:
            from rima.suggest import did_you_mean

            cols = [str(c) for c in df.columns]
            raise ModelFileError(
                f"the data lacks {len(missing)} column(s) the model needs: "
                + "; ".join(f"{c}{did_you_mean(c, cols)}" for c in missing))
        n, K = len(df), len(self.pillar_names)
        use_y = self.prediction != "causes"
        src_x = numeric_sources(df, self.variables)
        src_y = numeric_sources(df, self.indicators) if use_y else None
        # rows are converted a chunk at a time into the same two buffers, which stay in
        # warm memory, instead of into an n x p copy of fresh pages; the kernel writes the
        # scores straight into one (K + 2, n) block that becomes the frame's float columns
        p, m, step = len(self.variables), len(self.indicators), min(n, SCORE_CHUNK)
        buf_x = np.empty(p * step)
        buf_y = np.full(m * step, np.nan)
        marks = np.empty((step, -(-(p + m) // 64)), dtype=np.uint64)
        out = np.empty((K + 2, n))
        codes = np.empty(n, dtype=np.int32)
        reasons = {"ok": 0}
        for a in range(0, n, SCORE_CHUNK):
            b = min(n, a + SCORE_CHUNK)
            # (p, rows) views with contiguous rows, as the column kernel is compiled for
            miss = marks[:b - a]
            miss[:] = 0
            # infinite cells stay in: the row's status then names the cell, as streaming does
            X = convert_rows(src_x, self.variables, a, b, buf_x[:p * (b - a)].reshape(p, -1),
                             miss, keep_infinite=True).T
            Y = buf_y[:m * (b - a)].reshape(m, -1)
            if use_y:
                convert_rows(src_y, self.indicators, a, b, Y, miss, first_bit=p,
                             keep_infinite=True)
            Y = Y.T
            *_, c, why = self.score_batch(X, Y, out=(out[:K].T, out[K], out[K + 1]), at=a,
                                          missing=miss)
            to_global = np.array([reasons.setdefault(r, len(reasons)) for r in why], np.int32)
            codes[a:b] = to_global[c]
        scores = pd.DataFrame(out.T, columns=[*self.pillar_names, "RCI", "RCI_100"],
                              copy=False)
        ids = df[self.id]
        scores.insert(0, ids.name if ids.name else "id", id_values(ids))
        scores["status"] = status_column(codes, list(reasons))
        with np.errstate(invalid="ignore"):
            scores["out_of_range"] = (out[K + 1] < 0) | (out[K + 1] > 100)
        return scores

    # ------------------------------------------------------------------ file
    def to_dict(self) -> dict:
        content = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "rima_version": self.metadata.get("rima_version"),
            "spec": self.spec_dict,
            "options": self.options,
            "pillars": self.pillar_names,
            "variables": {"names": self.variables, "mean": self.mean_.tolist(),
                          "sd": self.scale_.tolist()},
            "orientation": self.orientation,
            "pillar_score_weights": self.weights_.tolist(),
            "pillar_membership": self.member_.tolist(),
            "indicators": {"names": self.indicators, "mean": self.ymean_.tolist(),
                           "sd": self.ysd_.tolist()},
            "prediction": {"method": self.prediction, "intercept": self.icpt_.tolist(),
                           "coef_causes": self.cx_.tolist(),
                           "coef_indicators": self.cy_.tolist(),
                           "pattern": "bit j set = indicator j missing"},
            "mimic": self.mimic,
            "rci_100_scale": {"min": self.scale_range_[0], "max": self.scale_range_[1]},
            "metadata": self.metadata,
        }
        return content

    def save(self, path) -> Path:
        content = self.to_dict()
        content["checksum"] = "sha256:" + hashlib.sha256(_canonical(content)).hexdigest()
        path = Path(path)
        path.write_text(json.dumps(content, indent=1, allow_nan=True) + "\n", encoding="utf-8")
        return path

    def __repr__(self):
        lo, hi = self.scale_range_
        return (f"<FittedModel pillars={self.pillar_names} indicators={self.indicators} "
                f"prediction={self.prediction} RCI scale=[{lo:.4g}, {hi:.4g}]>")


def load(path, trusted_keys=None) -> FittedModel:
    """Read and check a `model.json`; ModelFileError says what is wrong with it.

    trusted_keys: key files or `rima.signing.Key`s; when given, the file must carry a
    signature made by one of them (`rima sign`).
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"{path}: model file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: cannot read the model file: {exc}") from exc
    try:
        content = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: not a complete JSON document (truncated or corrupted?):"
                             f" {exc}") from exc
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a rima model file (format is not {FORMAT!r})")
    version = content.get("format_version")
    # `true == 1` in Python: only a real integer is a version
    if type(version) is not int or version not in SUPPORTED_VERSIONS:
        raise ModelFileError(
            f"{path}: model file format version {version!r} is not supported by this rima "
            f"(supports {', '.join(map(str, SUPPORTED_VERSIONS))}; written by rima "
            f"{content.get('rima_version')}); refit the model or use a matching rima version")
    checksum = content.pop("checksum", None)
    if checksum is None:
        raise ModelFileError(f"{path}: model file has no checksum")
    actual = "sha256:" + hashlib.sha256(_canonical(content)).hexdigest()
    if actual != checksum:
        raise ModelFileError(f"{path}: checksum mismatch: the model file was edited or "
                             "damaged after it was written; refit or restore it")
    signed_by = None
    if trusted_keys is not None:
        from rima.signing import Key, read_key, verify

        keys = [k if isinstance(k, Key) else read_key(k) for k in trusted_keys]
        if not keys:
            raise ModelFileError(f"{path}: trusted keys were required but none was given")
        signed_by = verify(content, keys, path)
    from rima.model_schema import check_content

    check_content(content, path)
    try:
        pred = content["prediction"]
        return FittedModel(
            spec_dict=content["spec"], options=content["options"], pillar_names=content["pillars"],
            variables=content["variables"]["names"], mean=content["variables"]["mean"],
            scale=content["variables"]["sd"], weights=content["pillar_score_weights"],
            member=content["pillar_membership"], indicators=content["indicators"]["names"],
            ymean=content["indicators"]["mean"], ysd=content["indicators"]["sd"],
            icpt=pred["intercept"], cx=pred["coef_causes"], cy=pred["coef_indicators"],
            lo=content["rci_100_scale"]["min"], hi=content["rci_100_scale"]["max"],
            orientation=content["orientation"], prediction=pred["method"],
            mimic=content["mimic"], metadata=content["metadata"], signed_by=signed_by)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: model file is incomplete or malformed: {exc!r}") from exc


# ---------------------------------------------------------------------- shared helpers
def row_status(df, needed, scored, partial_ok=()):
    """"ok" for scored rows, else the missing columns (as rima.validate words them).

    With `partial_ok` (FIML), a row missing only some of those columns is scored; if it is
    missing all of them the reason names them all.
    """
    needed = list(needed)
    bad = np.flatnonzero(~np.asarray(scored))
    miss = df[needed].iloc[bad].isna().to_numpy() if bad.size else np.zeros((0, len(needed)))
    codes, reasons = status_codes(len(df), bad, miss, needed, partial_ok)
    return np.asarray(reasons, dtype=object)[codes]


def pack_keys(miss) -> np.ndarray:
    """Rows of a boolean matrix as bit masks: (rows, ceil(cols / 64)) uint64, bit j % 64 of
    word j // 64 set when column j is True."""
    miss = np.asarray(miss, dtype=bool)
    nwords = max(1, -(-miss.shape[1] // 64))
    packed = np.zeros((miss.shape[0], nwords * 8), dtype=np.uint8)
    if miss.shape[1]:
        b = np.packbits(miss, axis=1, bitorder="little")
        packed[:, :b.shape[1]] = b
    return packed.view("<u8").astype(np.uint64, copy=False)


def status_codes(n, bad, miss, needed, partial_ok=()):
    """(codes (n,) int32, reasons) for rows `bad` (not scored) with missing-value matrix
    `miss` (len(bad) x len(needed)); code 0 is "ok". One reason per distinct pattern of
    missing columns, not one per row."""
    return status_codes_from_keys(n, bad, pack_keys(miss), needed, partial_ok)


def status_codes_from_keys(n, bad, keys, needed, partial_ok=()):
    """`status_codes` with each bad row's missing columns given as a bit mask (`pack_keys`
    layout, bit j <-> needed[j]; higher bits are ignored)."""
    codes = np.zeros(n, dtype=np.int32)
    reasons = ["ok"]
    if len(bad) == 0:
        return codes, reasons
    needed = list(needed)
    q = len(needed)
    keys = np.asarray(keys, dtype=np.uint64).reshape(len(bad), -1)
    nwords = max(1, -(-q // 64))
    keys = keys[:, :nwords]
    if q % 64:
        keep = np.full(nwords, np.iinfo(np.uint64).max, dtype=np.uint64)
        keep[-1] = (np.uint64(1) << np.uint64(q % 64)) - np.uint64(1)
        keys = keys & keep
    if nwords == 1:
        # one integer per row: a 1-D unique is far faster than unique(axis=0)
        ukeys, inverse = np.unique(keys[:, 0], return_inverse=True)
        ukeys = ukeys[:, None]
    else:
        ukeys, inverse = np.unique(keys, axis=0, return_inverse=True)
    partial = [needed.index(c) for c in partial_ok]
    for key in ukeys:
        cols = [needed[j] for j in range(q) if (int(key[j // 64]) >> (j % 64)) & 1]
        if partial and cols and all(needed.index(c) in partial for c in cols):
            cols = [needed[j] for j in partial]
        if not cols:
            reasons.append("not scored")
        elif len(cols) == 1:
            reasons.append(f"missing value in {cols[0]}")
        else:
            reasons.append(f"missing values in {', '.join(cols)}")
    codes[np.asarray(bad)] = 1 + inverse.ravel().astype(np.int32)
    return codes, reasons


def status_column(codes, reasons):
    """The status strings reasons[codes] as the array pandas would make of them, built
    without a Python object per row when pandas stores strings in Arrow."""
    codes = np.asarray(codes)
    dtype = pd.Series(list(reasons[:1]) or ["ok"]).dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        import pyarrow as pa

        dictionary = pa.array([str(r) for r in reasons], type=pa.large_string())
        arr = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32, copy=False)),
                                             dictionary).dictionary_decode()
        return pd.array(arr, dtype=dtype)
    return np.asarray(reasons, dtype=object)[codes]


def id_values(ids):
    """The id column's values for a new frame, as `np.asarray(ids)` would give them."""
    # numpy and string columns keep their storage (an id column of Arrow strings is not
    # turned into a Python object per row and back); other dtypes become plain values
    dtype = getattr(ids, "dtype", None)
    if isinstance(dtype, np.dtype) and dtype.kind in "iufb":
        return ids.to_numpy() if hasattr(ids, "to_numpy") else np.asarray(ids)
    if isinstance(dtype, pd.StringDtype) and hasattr(ids, "array"):
        return ids.array
    return np.asarray(ids)
