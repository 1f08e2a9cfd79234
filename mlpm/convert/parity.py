"""Compare the original's and the converted model's outputs on the same sample inputs.

max abs error = max |a - b|; max rel error = max |a - b| / max(|b|, 1e-6), with ``b``
the original's output. A conversion passes iff max abs error <= tolerance. Positions
where both are NaN (or the same infinity) agree.
"""

from __future__ import annotations

from mlpm.convert.errors import ParityError

_REL_FLOOR = 1e-6


def align(expected: dict, actual: dict, label: str, target: str) -> tuple[list[str], list, list]:
    """Pair named outputs (``name`` and ``name:0`` match); by sorted order if the names
    differ but the counts agree."""
    exp = {_plain(k): v for k, v in expected.items()}
    act = {_plain(k): v for k, v in actual.items()}
    if set(exp) == set(act):
        names = sorted(exp)
        return names, [exp[n] for n in names], [act[n] for n in names]
    if len(exp) == len(act):
        names = sorted(exp)
        return names, [exp[n] for n in names], [act[k] for k in sorted(act)]
    raise ParityError(f"the {target} conversion of {label} has outputs {', '.join(sorted(act))} "
                      f"but the original has {', '.join(sorted(exp))}; nothing was kept.")


def _plain(name: str) -> str:
    return name[:-2] if name.endswith(":0") else name


def measure(expected: list[list], actual: list[list], names: list[str], label: str,
            target: str) -> dict:
    """Errors over every sample and output: ``{"max_abs", "max_rel", "worst"}``.

    ``expected[i]`` and ``actual[i]`` are the outputs (numpy arrays, same order) of
    sample ``i``; ``names`` names those outputs for messages.
    """
    import numpy as np

    max_abs = max_rel = 0.0
    worst = ""
    for i, (exp, act) in enumerate(zip(expected, actual, strict=True)):
        if len(exp) != len(act):
            raise ParityError(f"the {target} conversion of {label} returns {len(act)} outputs "
                              f"where the original returns {len(exp)}; nothing was kept.")
        for name, a, b in zip(names, act, exp, strict=True):
            a, b = np.asarray(a), np.asarray(b)
            if a.shape != b.shape:
                raise ParityError(
                    f"output '{name}' of the {target} conversion of {label} has shape "
                    f"{list(a.shape)} where the original's has {list(b.shape)} (sample {i + 1}); "
                    "nothing was kept.")
            if a.size == 0:
                continue
            a64, b64 = a.astype(np.float64), b.astype(np.float64)
            with np.errstate(invalid="ignore", over="ignore"):
                diff = np.abs(a64 - b64)
                same = (a64 == b64) | (np.isnan(a64) & np.isnan(b64))
                diff = np.where(same, 0.0, np.where(np.isnan(diff), np.inf, diff))
                rel = diff / np.maximum(np.abs(np.nan_to_num(b64, nan=0.0)), _REL_FLOOR)
            abs_i, rel_i = float(diff.max()), float(rel.max())
            if abs_i > max_abs or not worst:
                worst = f"output '{name}', sample {i + 1}"
            max_abs, max_rel = max(max_abs, abs_i), max(max_rel, rel_i)
    return {"max_abs": max_abs, "max_rel": max_rel, "worst": worst}


def check(numbers: dict, tolerance: float, label: str, target: str, on: str = "") -> None:
    """Raise ParityError (with the numbers) unless max abs error <= tolerance; ``on`` says
    which inputs it ran on (``samples.npz (publisher)``)."""
    if numbers["max_abs"] <= tolerance:
        return
    raise ParityError(
        f"the {target} conversion of {label} differs from the original by up to "
        f"{numbers['max_abs']:.3g} on {on or 'random values'} (max abs error, at "
        f"{numbers['worst']}; max rel error "
        f"{numbers['max_rel']:.3g}), more than the tolerance {tolerance:g}, so nothing was "
        "kept; pass a larger --tolerance if that difference is acceptable.")
