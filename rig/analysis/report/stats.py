"""Group statistics on per-slice magnitudes (% of baseline), with scipy and statsmodels.

Two groups: Welch's t-test (mean difference with its 95 % CI), Mann–Whitney U (rank-biserial r),
Hedges' g. More groups: one-way ANOVA (η²) and Kruskal–Wallis (ε²), post hoc Tukey HSD and
pairwise Mann–Whitney with Holm's correction. When animal ids are present and some animal gave
more than one slice: a linear mixed model (random intercept per animal; slices nested in animals).
Effect sizes carry a 95 % confidence interval: analytic where one exists (Welch, Tukey, Hedges' g
normal approximation, η² by inverting the noncentral F), else a percentile bootstrap (2000
resamples, fixed seed: reproducible) — except the omnibus ε² of Kruskal–Wallis, whose bootstrap is
biased at slice-study n (the pairwise rank-biserial r carry CIs). Differences are "later group −
first group".
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import optimize, stats
from statsmodels.stats.multitest import multipletests

COLUMNS = ["test", "comparison", "group_a", "group_b", "n_a", "n_b", "statistic", "df", "p", "p_adj",
           "effect", "estimate", "ci_low", "ci_high", "note"]
ALPHA = 0.05
N_BOOT = 2000
SEED = 20260101


def _row(**kw: object) -> dict:
    r = {c: np.nan for c in COLUMNS}
    r.update({"comparison": "", "group_a": "", "group_b": "", "note": "", "effect": "", "df": ""})
    r.update(kw)
    return r


def hedges_g(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Hedges' g of b − a (pooled SD, small-sample corrected) and its 95 % CI (normal approximation,
    Hedges & Olkin 1985)."""
    na, nb = len(a), len(b)
    sp = np.sqrt(((na - 1) * np.var(a, ddof=1) + (nb - 1) * np.var(b, ddof=1)) / (na + nb - 2))
    d = (np.mean(b) - np.mean(a)) / sp
    j = 1.0 - 3.0 / (4.0 * (na + nb) - 9.0)
    g = j * d
    se = np.sqrt((na + nb) / (na * nb) + g**2 / (2.0 * (na + nb)))
    z = stats.norm.ppf(1 - ALPHA / 2)
    return float(g), float(g - z * se), float(g + z * se)


def _rank_biserial_nd(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    a, b = np.moveaxis(a, axis, -1), np.moveaxis(b, axis, -1)
    return np.sign(b[..., None, :] - a[..., :, None]).mean(axis=(-2, -1))


def rank_biserial(a: np.ndarray, b: np.ndarray) -> float:
    """Rank-biserial correlation of b vs a: P(b > a) − P(b < a), in [−1, 1] (= 1 − 2 U_a / (n_a n_b))."""
    return float(_rank_biserial_nd(np.asarray(a, float), np.asarray(b, float)))


def _epsilon2_nd(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
    n = sum(s.shape[axis] for s in samples)
    return stats.kruskal(*samples, axis=axis).statistic * (n + 1) / (n**2 - 1)


def _boot_ci(statistic, samples: tuple[np.ndarray, ...]) -> tuple[float, float]:
    """95 % percentile-bootstrap CI (groups resampled independently; vectorized statistic)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = stats.bootstrap(samples, statistic, n_resamples=N_BOOT, method="percentile",
                              vectorized=True, rng=np.random.default_rng(SEED))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def eta_squared_ci(f: float, df1: int, df2: int) -> tuple[float, float, float]:
    """η² = SS_between / SS_total from F, and its 95 % CI by inverting the noncentral F (Steiger 2004)."""
    n = df1 + df2 + 1
    eta2 = f * df1 / (f * df1 + df2)

    def cdf(lam: float) -> float:
        return stats.ncf.cdf(f, df1, df2, lam) if lam > 0 else stats.f.cdf(f, df1, df2)

    def bound(target: float) -> float:
        if cdf(0.0) < target:
            return 0.0
        hi = max(10.0, 10 * f * df1)
        while cdf(hi) > target:
            hi *= 2
        return optimize.brentq(lambda lam: cdf(lam) - target, 0.0, hi)

    lo, hi = bound(1 - ALPHA / 2), bound(ALPHA / 2)
    return float(eta2), lo / (lo + n), hi / (hi + n)


def two_groups(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> list[dict]:
    comp = f"{name_b} vs {name_a}"
    base = {"comparison": comp, "group_a": name_a, "group_b": name_b, "n_a": len(a), "n_b": len(b)}
    t = stats.ttest_ind(b, a, equal_var=False)
    ci = t.confidence_interval(1 - ALPHA)
    mw = stats.mannwhitneyu(a, b, alternative="two-sided")
    r_lo, r_hi = _boot_ci(_rank_biserial_nd, (a, b))
    g, g_lo, g_hi = hedges_g(a, b)
    return [
        _row(test="Welch t-test", statistic=float(t.statistic), df=f"{t.df:.2f}", p=float(t.pvalue),
             effect="mean difference (% of baseline)", estimate=float(np.mean(b) - np.mean(a)),
             ci_low=float(ci.low), ci_high=float(ci.high), **base),
        _row(test="Mann–Whitney U", statistic=float(mw.statistic), p=float(mw.pvalue),
             effect="rank-biserial r", estimate=rank_biserial(a, b), ci_low=r_lo, ci_high=r_hi,
             note="U of the first group; r CI: percentile bootstrap", **base),
        _row(test="Hedges' g", effect="Hedges' g", estimate=g, ci_low=g_lo, ci_high=g_hi,
             note="CI: normal approximation", **base),
    ]


def many_groups(samples: list[np.ndarray], names: list[str]) -> list[dict]:
    k, n = len(samples), sum(len(s) for s in samples)
    rows = []
    an = stats.f_oneway(*samples)
    eta2, e_lo, e_hi = eta_squared_ci(float(an.statistic), k - 1, n - k)
    rows.append(_row(test="one-way ANOVA", comparison="all groups", n_a=n, statistic=float(an.statistic),
                     df=f"{k - 1}, {n - k}", p=float(an.pvalue), effect="η²", estimate=eta2,
                     ci_low=e_lo, ci_high=e_hi, note="CI: noncentral F"))
    kw = stats.kruskal(*samples)
    rows.append(_row(test="Kruskal–Wallis", comparison="all groups", n_a=n, statistic=float(kw.statistic),
                     df=f"{k - 1}", p=float(kw.pvalue), effect="ε²", estimate=float(_epsilon2_nd(*samples)),
                     note="no CI for ε² (resampling ties bias it upwards at these n); see the pairwise r"))
    tk = stats.tukey_hsd(*samples)
    tci = tk.confidence_interval(1 - ALPHA)
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    for i, j in pairs:
        rows.append(_row(test="Tukey HSD", comparison=f"{names[j]} vs {names[i]}", group_a=names[i],
                         group_b=names[j], n_a=len(samples[i]), n_b=len(samples[j]),
                         statistic=float(tk.statistic[j, i]), p=float(tk.pvalue[j, i]), p_adj=float(tk.pvalue[j, i]),
                         effect="mean difference (% of baseline)", estimate=float(tk.statistic[j, i]),
                         ci_low=float(tci.low[j, i]), ci_high=float(tci.high[j, i]),
                         note="p and CI adjusted for all pairs"))
    raw = [stats.mannwhitneyu(samples[i], samples[j], alternative="two-sided") for i, j in pairs]
    adj = multipletests([r.pvalue for r in raw], method="holm")[1]
    for (i, j), r, pa in zip(pairs, raw, adj, strict=True):
        lo, hi = _boot_ci(_rank_biserial_nd, (samples[i], samples[j]))
        rows.append(_row(test="Mann–Whitney U (Holm)", comparison=f"{names[j]} vs {names[i]}", group_a=names[i],
                         group_b=names[j], n_a=len(samples[i]), n_b=len(samples[j]), statistic=float(r.statistic),
                         p=float(r.pvalue), p_adj=float(pa), effect="rank-biserial r",
                         estimate=rank_biserial(samples[i], samples[j]), ci_low=lo, ci_high=hi,
                         note="post hoc to Kruskal–Wallis; r CI: percentile bootstrap"))
    for i, j in pairs:
        g, lo, hi = hedges_g(samples[i], samples[j])
        rows.append(_row(test="Hedges' g", comparison=f"{names[j]} vs {names[i]}", group_a=names[i], group_b=names[j],
                         n_a=len(samples[i]), n_b=len(samples[j]), effect="Hedges' g", estimate=g, ci_low=lo,
                         ci_high=hi, note="CI: normal approximation"))
    return rows


def mixed_model(df: pd.DataFrame, names: list[str], value: str = "magnitude_pct") -> list[dict]:
    """Random intercept per animal (slices nested in animals): value ~ group; one row per group vs
    the first. Returns [] when animal ids are missing or every animal gave a single slice."""
    import statsmodels.formula.api as smf

    animals = df["animal_id"].astype(str)
    if (animals == "").any() or animals.nunique() >= len(df) or animals.nunique() < 2:
        return []
    d = pd.DataFrame({"y": df[value].to_numpy(float), "g": [names.index(x) for x in df["group"]],
                      "animal": animals.to_numpy()})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = smf.mixedlm("y ~ C(g)", d, groups=d["animal"]).fit(reml=True)
    note = "random intercept per animal (REML)"
    conv = [str(w.message).split("\n")[0] for w in caught if "onverg" in str(w.message) or "singular" in
            str(w.message).lower() or "boundary" in str(w.message).lower()]
    var_a = float(fit.cov_re.iloc[0, 0]) if fit.cov_re.size else 0.0
    note += f"; animal variance {var_a:.3g}, residual {float(fit.scale):.3g}"
    if conv:
        note += f"; warning: {conv[0]}"
    ci = fit.conf_int(alpha=ALPHA)
    rows = []
    for j in range(1, len(names)):
        term = f"C(g)[T.{j}]"
        if term not in fit.params.index:
            continue
        rows.append(_row(test="linear mixed model", comparison=f"{names[j]} vs {names[0]}", group_a=names[0],
                         group_b=names[j], n_a=int((d["g"] == 0).sum()), n_b=int((d["g"] == j).sum()),
                         statistic=float(fit.tvalues[term]), p=float(fit.pvalues[term]),
                         effect="mean difference (% of baseline)", estimate=float(fit.params[term]),
                         ci_low=float(ci.loc[term, 0]), ci_high=float(ci.loc[term, 1]),
                         df=f"{animals.nunique()} animals", note=note))
    return rows


def compare_groups(table: pd.DataFrame, value: str = "magnitude_pct") -> pd.DataFrame:
    """The statistics table for per-slice values in ``table`` (columns group, animal_id, value).
    Group order = order of first appearance (the first group is the reference)."""
    names = list(dict.fromkeys(table["group"]))
    samples = [table.loc[table["group"] == g, value].to_numpy(float) for g in names]
    rows: list[dict] = []
    small = [g for g, s in zip(names, samples, strict=True) if len(s) < 2]
    if len(names) < 2:
        rows.append(_row(test="none", note="fewer than two groups: nothing to compare"))
    elif small:
        rows.append(_row(test="none", note=f"groups with fewer than 2 slices: {', '.join(small)}"))
    elif len(names) == 2:
        rows += two_groups(samples[0], samples[1], names[0], names[1])
    else:
        rows += many_groups(samples, names)
    if len(names) >= 2 and not small:
        rows += mixed_model(table, names, value)
    return pd.DataFrame(rows, columns=COLUMNS)
