"""The public API is documented: every public function and class that `rima` exports, the
analyses and the streaming scorer, and the public methods of the objects they return, carry a numpydoc docstring (a
Parameters section naming every parameter, a Returns section unless they return None) and
type annotations on every parameter and the return value; and the Examples in those
docstrings run (doctest) and print what they show."""

from __future__ import annotations

import doctest
import inspect

import pytest

import rima
import rima.mimic
from rima.analysis.impact import ImpactResult
from rima.analysis.panel import PanelResult, panel
from rima.analysis.scenario import ScenarioResult, load_scenarios, scenario, sensitivity
from rima.analysis.shocks import ShockResult, shocks
from rima.analysis.targeting import TargetResult, target
from rima.display import Summary
from rima.mimic import MimicResult
from rima.model_file import FittedModel
from rima.resampling import BootstrapResult
from rima.simulation import SimulatedSurvey
from rima.streaming import score_file
from rima.validation import ValidationReport

# objects a public function returns, whose public methods are API too
RETURNED = [FittedModel, ValidationReport, BootstrapResult, Summary, ImpactResult,
            MimicResult, SimulatedSurvey, ShockResult, PanelResult, ScenarioResult,
            TargetResult]
# public functions outside `rima`'s own names (the analyses are not re-exported)
FUNCTIONS = [shocks, panel, scenario, sensitivity, load_scenarios, target, score_file]


def _public_api() -> dict[str, object]:
    out = {}
    for name in dir(rima):
        if name.startswith("_") or name in ("logger", "mimic"):
            continue  # `logger` is a logging.Logger, `mimic` a subpackage (below)
        out[f"rima.{name}"] = getattr(rima, name)
    for name in rima.mimic.__all__:
        out[f"rima.mimic.{name}"] = getattr(rima.mimic, name)
    for fn in FUNCTIONS:
        out[f"{fn.__module__}.{fn.__name__}"] = fn
    for cls in RETURNED:
        if not any(obj is cls for obj in out.values()):
            out[f"{cls.__module__}.{cls.__name__}"] = cls
    for qual, obj in list(out.items()):
        if not inspect.isclass(obj):
            continue
        for klass in obj.__mro__:
            if not klass.__module__.startswith("rima"):
                continue  # scikit-learn's and pandas' own methods are theirs to document
            for attr, member in vars(klass).items():
                if attr.startswith("_") or f"{qual}.{attr}" in out:
                    continue
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                if callable(member) or isinstance(member, property):
                    out[f"{qual}.{attr}"] = getattr(obj, attr) if not isinstance(
                        member, property) else member
    return out


API = _public_api()


def _sections(doc: str) -> dict[str, str]:
    """numpydoc sections: a title line followed by a line of dashes."""
    lines = doc.splitlines()
    heads = [i for i in range(len(lines) - 1)
             if lines[i].strip() and set(lines[i + 1].strip()) == {"-"}
             and len(lines[i + 1].strip()) >= len(lines[i].strip())]
    out = {}
    for k, i in enumerate(heads):
        end = heads[k + 1] if k + 1 < len(heads) else len(lines)
        out[lines[i].strip()] = "\n".join(lines[i + 2:end])
    return out


def _listed(section: str) -> set[str]:
    """Names a Parameters section documents (``a : int``, ``a, b : float``, ``**kw``)."""
    names = set()
    for line in section.splitlines():
        if line and not line[0].isspace():
            head = line.split(" : ")[0]
            names |= {n.strip().lstrip("*") for n in head.split(",")}
    return names


def problems(obj) -> list[str]:
    """What the docstring and annotations of `obj` lack (empty when complete)."""
    if isinstance(obj, property):
        return [] if inspect.getdoc(obj.fget) else ["no docstring"]
    doc = inspect.getdoc(obj)
    if not doc:
        return ["no docstring"]
    sections = _sections(doc)
    if inspect.isclass(obj):
        if not ({"Parameters", "Attributes"} & set(sections)):
            return ["no Parameters or Attributes section"]
        return []
    out = []
    sig = inspect.signature(obj)
    params = [p for p in sig.parameters.values() if p.name not in ("self", "cls")]
    if params:
        if "Parameters" not in sections:
            out.append("no Parameters section")
        else:
            listed = _listed(sections["Parameters"])
            missing = {p.name for p in params} - listed
            if missing:
                out.append(f"Parameters does not name {sorted(missing)}")
            unknown = listed - {p.name for p in params}
            if unknown:
                out.append(f"Parameters names {sorted(unknown)}, not in the signature")
    if sig.return_annotation is inspect.Signature.empty:
        out.append("no return annotation")
    returns_none = sig.return_annotation in (None, "None")
    if not returns_none and not ({"Returns", "Yields"} & set(sections)):
        out.append("no Returns section")
    unannotated = [p.name for p in params if p.annotation is inspect.Parameter.empty]
    if unannotated:
        out.append(f"no annotation on {unannotated}")
    return out


def test_the_checker_can_fail():
    def bare(x, y=1):
        return x

    def documented(x: int, y: int = 1) -> int:
        """Add.

        Parameters
        ----------
        x : int
            First.
        y : int, default 1
            Second.

        Returns
        -------
        int
        """
        return x + y

    assert set(problems(bare)) == {"no docstring"}
    assert problems(documented) == []
    documented.__doc__ = documented.__doc__.replace("y : int, default 1", "z : int")
    assert problems(documented) == ["Parameters does not name ['y']",
                                    "Parameters names ['z'], not in the signature"]


def test_public_api_is_listed():
    for name in ("rima.fit", "rima.FactorModel.fit", "rima.RimaResult.save",
                 "rima.model_file.FittedModel.score", "rima.Spec.to_dict"):
        assert name in API


@pytest.mark.parametrize("name", sorted(API))
def test_public_callable_is_documented_and_annotated(name):
    assert problems(API[name]) == []


def _examples() -> list[doctest.DocTest]:
    finder = doctest.DocTestFinder(recurse=False)
    seen, tests = set(), []
    for name, obj in sorted(API.items()):
        target = obj.fget if isinstance(obj, property) else obj
        target = inspect.unwrap(target) if callable(target) else target
        if id(target) in seen or not inspect.getdoc(target):
            continue
        seen.add(id(target))
        for t in finder.find(target, name, globs={"rima": rima}):
            if t.examples:
                tests.append(t)
    return tests


EXAMPLES = _examples()


@pytest.mark.parametrize("test", EXAMPLES, ids=[t.name for t in EXAMPLES])
def test_docstring_examples_run(test, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
