"""Adverse events (ADAE) of a simulated trial: rates, severities and the draw."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._model import ARM_MODELS, INJECTION_EVERY_WEEKS

# Adverse events: (AEDECOD, AEBODSYS)
_GENERAL = "General disorders and administration site conditions"
AE_TERMS = {
    "Injection site pain": _GENERAL,
    "Injection site erythema": _GENERAL,
    "Injection site swelling": _GENERAL,
    "Headache": "Nervous system disorders",
    "Pruritus": "Skin and subcutaneous tissue disorders",
}
#: Probability per injection of an injection-site event, by arm (arms without injections: none).
AE_PER_INJECTION = {
    "EXOSOME": {"Injection site pain": 0.15, "Injection site erythema": 0.10,
                "Injection site swelling": 0.06},
    "PLACEBO": {"Injection site pain": 0.12, "Injection site erythema": 0.05,
                "Injection site swelling": 0.03},
}
#: Expected number of events per subject per 24 weeks on treatment (Poisson), by arm.
AE_PER_24_WEEKS = {
    "EXOSOME": {"Headache": 0.06, "Pruritus": 0.05},
    "MINOXIDIL": {"Headache": 0.08, "Pruritus": 0.12},
    "PLACEBO": {"Headache": 0.05, "Pruritus": 0.03},
    "FINASTERIDE": {"Headache": 0.05, "Pruritus": 0.03},   # assumption: as placebo
}
#: Expected number of pre-treatment events (screening, days -28..-1; TRTEMFL = "N").
AE_PRETREATMENT = {"Headache": 0.03, "Pruritus": 0.02}
#: Severity probabilities (MILD, MODERATE, SEVERE) by (arm, term); default when absent.
AE_SEVERITY_DEFAULT = (0.80, 0.18, 0.02)
AE_SEVERITY = {
    ("EXOSOME", "Injection site pain"): (0.65, 0.30, 0.05),
    ("EXOSOME", "Injection site erythema"): (0.65, 0.30, 0.05),
    ("EXOSOME", "Injection site swelling"): (0.65, 0.30, 0.05),
    ("MINOXIDIL", "Pruritus"): (0.60, 0.35, 0.05),
}
AE_SERIOUS_IF_SEVERE = 0.10
_SEVERITIES = np.array(["MILD", "MODERATE", "SEVERE"])


def _adverse_events(rng, usubjid, arm, trtdurd, treatment_weeks) -> pd.DataFrame:
    """ADAE: injection-site events per injection, systemic events per exposure, screening AEs."""
    n = usubjid.size
    records = []   # (subject index, ASTDY, AEDECOD, duration days)
    inj_days = np.arange(1, 7 * treatment_weeks + 1, 7 * INJECTION_EVERY_WEEKS)
    for code in sorted(set(arm)):
        idx = np.flatnonzero(arm == code)
        if ARM_MODELS[code].injected:
            for term, q in AE_PER_INJECTION[code].items():
                hit = rng.random((idx.size, inj_days.size)) < q
                onset = rng.integers(0, 2, size=hit.shape)
                dur = rng.integers(0, 3, size=hit.shape)
                hit &= inj_days[None, :] <= trtdurd[idx, None]
                for a, b in zip(*np.nonzero(hit)):
                    records.append((idx[a], inj_days[b] + onset[a, b], term, dur[a, b]))
        for term, rate in AE_PER_24_WEEKS[code].items():
            k = rng.poisson(rate * trtdurd[idx] / (7 * 24))
            for a in np.flatnonzero(k):
                starts = rng.integers(1, trtdurd[idx[a]] + 1, size=k[a])
                durs = rng.integers(0, 2 if term == "Headache" else 15, size=k[a])
                records.extend((idx[a], s, term, d) for s, d in zip(starts, durs))
    for term, rate in AE_PRETREATMENT.items():
        k = rng.poisson(rate, size=n)
        for a in np.flatnonzero(k):
            starts = rng.integers(-28, 0, size=k[a])
            records.extend((a, s, term, 0) for s in starts)
    cols = ["USUBJID", "AESEQ", "AEBODSYS", "AEDECOD", "AESEV", "AESER", "TRTEMFL", "ASTDY",
            "AENDY"]
    if not records:
        return pd.DataFrame({c: pd.Series(dtype=object if c[:2] != "AS" else np.int64)
                             for c in cols})
    rec = pd.DataFrame(records, columns=["i", "ASTDY", "AEDECOD", "DUR"])
    rec = rec.sort_values(["i", "ASTDY", "AEDECOD"], kind="mergesort").reset_index(drop=True)
    sev = np.empty(len(rec), dtype=object)
    u = rng.random(len(rec))
    for r, (i, term) in enumerate(zip(rec["i"], rec["AEDECOD"])):
        p = AE_SEVERITY.get((arm[i], term), AE_SEVERITY_DEFAULT)
        cum = np.cumsum(p) / np.sum(p)
        sev[r] = _SEVERITIES[min(int(np.searchsorted(cum, u[r], side="right")), 2)]
    serious = (sev == "SEVERE") & (rng.random(len(rec)) < AE_SERIOUS_IF_SEVERE)
    astdy = rec["ASTDY"].to_numpy(np.int64)
    aendy = astdy + rec["DUR"].to_numpy(np.int64)
    aendy = np.where((astdy < 0) & (aendy >= 0), aendy + 1, aendy)   # no study day 0
    return pd.DataFrame({
        "USUBJID": usubjid[rec["i"].to_numpy()],
        "AESEQ": rec.groupby("i").cumcount().to_numpy(np.int64) + 1,
        "AEBODSYS": rec["AEDECOD"].map(AE_TERMS).to_numpy(),
        "AEDECOD": rec["AEDECOD"].to_numpy(),
        "AESEV": sev.astype(str),
        "AESER": np.where(serious, "Y", "N"),
        "TRTEMFL": np.where(astdy >= 1, "Y", "N"),
        "ASTDY": astdy,
        "AENDY": aendy,
    })
