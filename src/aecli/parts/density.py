"""A density over the training codes, so `sample` works for every kind: z is drawn from it and
decoded. Fitted at the end of training; its parameters travel in the checkpoint as plain tensors
(`weights` (m,), `means` (m, k), `covariances` (m, k, k) or one shared (1, k, k)).

Two methods, both Gaussian mixtures in that form:
- "gmm" (the default): scikit-learn's full-covariance mixture, with `components` components or,
  by default, as many as BIC chooses among 1, 2, 4, 8, 16;
- "kde": a variance-corrected smoothed bootstrap (Silverman 1986, section 6.4.1): one Gaussian
  kernel per training code (a seeded subsample of at most `MAX_KERNELS`) with the shared covariance
  h^2 * cov(codes), h chosen by leave-one-out log-likelihood, and centres and kernels shrunk
  towards the codes' mean by 1 / sqrt(1 + h^2) so the mixture keeps the codes' covariance instead
  of inflating it by (1 + h^2).
"""

from __future__ import annotations

import math

import numpy as np
import torch

BIC_COMPONENTS = (1, 2, 4, 8, 16)  # the mixture sizes BIC chooses among by default
MAX_KERNELS = 2048
METHODS = ("gmm", "kde")
BANDWIDTHS = np.geomspace(0.05, 2.0, 41)  # the leave-one-out search grid for h


def fit_code_density(
    codes: np.ndarray, seed: int, method: str = "gmm", components: int | None = None
) -> dict[str, np.ndarray]:
    """Mixture weights (m,), means (m, k) and covariances (m, k, k), or (1, k, k) shared by every
    component for "kde", of the codes; float32."""
    if method not in METHODS:
        raise ValueError(f"code density method {method!r} is not one of: {', '.join(METHODS)}")
    codes = np.asarray(codes, dtype=np.float64)
    if method == "kde" and len(codes) > codes.shape[1] + 1:
        return _fit_kde(codes, seed)
    return _fit_gmm(codes, seed, components)


def _fit_gmm(codes: np.ndarray, seed: int, components: int | None) -> dict[str, np.ndarray]:
    fixed = () if components is None else (components,)
    bic, by_count = fit_mixtures(codes, seed, fixed, bic=components is None)
    return bic if components is None else by_count[components]


def fit_mixtures(
    codes: np.ndarray, seed: int, fixed: tuple[int, ...] = (), bic: bool = True
) -> tuple[dict[str, np.ndarray] | None, dict[int, dict[str, np.ndarray]]]:
    """BIC's mixture (as `fit_code_density(codes, seed)` fits it; None without `bic`) and one of
    each of the `fixed` component counts, every count fitted once: a count BIC tried is not
    fitted again. Each is what `fit_code_density(codes, seed, "gmm", m)` gives."""
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    codes = np.asarray(codes, dtype=np.float64)
    fits: dict[int, tuple[dict[str, np.ndarray], float]] = {}

    def fit(m: int) -> tuple[dict[str, np.ndarray], float]:
        if m not in fits:
            gm = GaussianMixture(m, covariance_type="full", reg_covar=1e-5, random_state=seed)
            gm.fit(codes)
            density = {
                "weights": gm.weights_.astype(np.float32),
                "means": gm.means_.astype(np.float32),
                "covariances": positive_float32(gm.covariances_),
            }
            fits[m] = density, float(gm.bic(codes))
        return fits[m]

    best, best_bic = None, np.inf
    with threadpool_limits(1):  # small matrices: BLAS threads only contend (12 s -> 3.6 s seen)
        for m in BIC_COMPONENTS if bic else ():
            if m > 1 and len(codes) < 20 * m:
                break
            density, score = fit(m)
            if score < best_bic:
                best, best_bic = density, score
        by_count = {m: fit(min(m, len(codes)))[0] for m in fixed}
    return best, by_count


def same_density(a: dict[str, np.ndarray] | None, b: dict[str, np.ndarray] | None) -> bool:
    """Whether two fitted densities (None: a VAE's prior) are the same, array for array."""
    if a is None or b is None:
        return a is b
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def positive_float32(covariances: np.ndarray) -> np.ndarray:
    """(m, k, k) covariances as float32 that stay positive definite: a component whose
    float32 copy has no Cholesky factor (its smallest variance lost to rounding when the codes
    vary on very different scales; reg_covar is absolute) gets a floor of 1e-5, 1e-4, ... times
    its mean variance added to the diagonal, the least that works. Others are cast unchanged."""
    out = covariances.astype(np.float32)
    for j, cov in enumerate(covariances):
        floor = 1e-5 * max(float(np.trace(cov)) / len(cov), 1e-30)
        while torch.linalg.cholesky_ex(torch.from_numpy(out[j]).double()).info.item():
            out[j] = (cov + floor * np.eye(len(cov))).astype(np.float32)
            floor *= 10
    return out


def _fit_kde(codes: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    if len(codes) > MAX_KERNELS:
        keep = np.random.default_rng(seed).choice(len(codes), MAX_KERNELS, replace=False)
        codes = codes[np.sort(keep)]
    n, k = codes.shape
    centre = codes.mean(0)
    cov = np.cov(codes.T).reshape(k, k)
    # a floor for dead or constant code dimensions, so the kernel covariance stays positive
    cov += np.eye(k) * max(1e-6 * float(np.trace(cov)) / k, 1e-10)
    h = loo_bandwidth(codes, cov)
    shrink = 1.0 / np.sqrt(1.0 + h**2)
    return {
        "weights": np.full(n, 1.0 / n, dtype=np.float32),
        "means": (centre + shrink * (codes - centre)).astype(np.float32),
        "covariances": ((shrink * h) ** 2 * cov)[None].astype(np.float32),
    }


def spherical(density: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The same mixture (weights, means) with each component's covariance made spherical: its
    total variance (the trace) spread equally over the k directions, so a code far out along
    the direction the codes vary most is as unlikely as one as far out along any other (a full
    covariance whitens that direction away). float32, in the same (m, k, k) form."""
    cov = np.asarray(density["covariances"], dtype=np.float64)
    k = cov.shape[-1]
    per_direction = np.trace(cov, axis1=-2, axis2=-1) / k
    shaped = per_direction[:, None, None] * np.eye(k)[None]
    copies = {name: np.array(value, dtype=np.float32) for name, value in density.items()}
    return {**copies, "covariances": shaped.astype(np.float32)}  # no memory shared: safetensors


def loo_bandwidth(codes: np.ndarray, cov: np.ndarray) -> float:
    """The h in `BANDWIDTHS` whose kernel density (kernel covariance h^2 * cov) gives the codes
    the highest leave-one-out log-likelihood."""
    k = codes.shape[1]
    y = np.linalg.solve(np.linalg.cholesky(cov), (codes - codes.mean(0)).T).T
    sq = (y**2).sum(1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * y @ y.T, 0.0)
    np.fill_diagonal(d2, np.inf)
    nearest = d2.min(1, keepdims=True)  # subtracted for a stable log-sum-exp
    scores = [
        float(
            (np.log(np.exp(-0.5 * (d2 - nearest) / h**2).sum(1)) - 0.5 * nearest[:, 0] / h**2).sum()
        )
        - len(codes) * k * np.log(h)
        for h in BANDWIDTHS
    ]
    return float(BANDWIDTHS[int(np.argmax(scores))])


def stratified_uniforms(n: int, gen: torch.Generator, dims: int | None = None) -> torch.Tensor:
    """n uniforms in [0, 1) (or (n, dims), a column each), one in each slice [i / n, (i + 1) / n)
    in a random order (Latin hypercube sampling, McKay et al. 1979): each is uniform on its own,
    and n of them cover the range evenly, as n independent draws do only on average."""
    shape = (n,) if dims is None else (n, dims)
    rank = torch.argsort(torch.rand(shape, generator=gen), dim=0)
    return (rank + torch.rand(shape, generator=gen)) / n


def normals(n: int, k: int, gen: torch.Generator, stratified: bool) -> torch.Tensor:
    """(n, k) standard normals: independent draws, or stratified per column."""
    if not stratified:
        return torch.randn(n, k, generator=gen)
    u = stratified_uniforms(n, gen, k).clamp(1e-7, 1 - 1e-7)
    return torch.special.ndtri(u.double()).float()


def sample_mixture(
    density: dict[str, torch.Tensor],
    n: int,
    gen: torch.Generator,
    temperature: float,
    stratified: bool = False,
) -> torch.Tensor:
    """n codes from the mixture; `temperature` scales each component's spread. `stratified`:
    components and the normals are drawn by Latin hypercube (`stratified_uniforms`), so that n
    codes follow the mixture more evenly (each code's distribution is the same)."""
    weights = density["weights"].double()
    if stratified:
        cumulative = torch.cumsum(weights / weights.sum(), 0)
        u = stratified_uniforms(n, gen).double()
        component = torch.searchsorted(cumulative, u, right=True).clamp(max=len(weights) - 1)
    else:
        component = torch.multinomial(weights, n, replacement=True, generator=gen)
    chol = torch.linalg.cholesky(density["covariances"].double()).float()
    eps = normals(n, density["means"].shape[1], gen, stratified)
    # a kernel density stores one covariance shared by all its components
    chols = chol.expand(n, -1, -1) if len(chol) == 1 else chol[component]
    spread = torch.einsum("nij,nj->ni", chols, eps)
    return density["means"][component] + temperature * spread


def mixture_log_density(density: dict[str, torch.Tensor], z: torch.Tensor) -> torch.Tensor:
    """log p(z) per row under the mixture (float64 inside: codes can be far from every
    component). A kernel density's shared covariance is factored once."""
    weights = density["weights"].double()
    means = density["means"].double()
    chol = torch.linalg.cholesky(density["covariances"].double())
    k = means.shape[1]
    z = z.double()
    if len(chol) == 1:  # one covariance shared by every component: whiten once
        white_z = torch.linalg.solve_triangular(chol[0], z.T, upper=False).T
        white_m = torch.linalg.solve_triangular(chol[0], means.T, upper=False).T
        maha = torch.cdist(white_z, white_m).pow(2)  # (rows, components)
        logdet = 2 * torch.log(torch.diagonal(chol[0])).sum().expand(len(weights))
    else:
        diff = z[:, None, :] - means[None, :, :]  # (rows, components, k)
        white = torch.linalg.solve_triangular(
            chol[None].expand(len(z), -1, -1, -1), diff[..., None], upper=False
        )[..., 0]
        maha = white.pow(2).sum(-1)
        logdet = 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
    log_comp = -0.5 * (k * math.log(2 * math.pi) + logdet[None, :] + maha)
    return torch.logsumexp(torch.log(weights)[None, :] + log_comp, dim=1)
