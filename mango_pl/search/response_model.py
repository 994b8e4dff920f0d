"""A model of each unit's response, learned online from every stimulus it was shown.

:class:`ResponseModel` is Bayesian linear regression on random Fourier features (RFF, Rahimi &
Recht 2007: a finite approximation of a Gaussian process with an RBF kernel) of what a grid
point means (:class:`~mango_pl.grid_features.GridFeatures`: SN-GAN latent values, VQ-VAE
codebook vectors). It predicts a mean and an uncertainty for many candidate stimuli at a cost far
below one measurement, which is what a searcher needs to screen candidates before it spends a
real query on them.

Why these choices:

- **Features from the grid's meaning, not from decoded images.** A point's feature vector is the
  concatenation of its coordinates' vectors (reduced to at most ``components`` principal
  components of the table, each coordinate scaled to unit total variance). The random projection
  of such a vector is a sum of ``d`` rows of a precomputed table, so projecting thousands of
  candidates is one ``embedding_bag``: no decoding, no network.
- **Several length scales, chosen by what predicted best.** A unit of an early layer and one of
  the last layer vary on very different scales of the latent. The model keeps one regression per
  length scale (``scales`` times the typical distance between two random points) and scores each
  on the measurements it had to *predict* (before it was told them): the scale with the smallest
  recent standardized error is the one used. A model too simple for a unit shows up here too: the
  within-batch correlation of its predictions with the measurements (``trust``) tells the
  searcher how much to rely on it.
- **The table's distances measured as the image changes (``metric=True``).** An RBF kernel on
  the table treats every latent coordinate (every code's vector) alike, but the decoded image does
  not: through the bank's SN-GAN, 5 of the 128 latent directions carry 75 % of how much the
  (pooled) image changes, 10 carry 87 %. When the features carry ``pixels``, the model decodes,
  once, a few random points and each with one coordinate changed (``_METRIC_BASES * (d * r + 1)``
  images: about 500 for the SN-GAN grid, 2,000 for the VQ-VAE grid), estimates the Jacobian of
  the pooled image with respect to the table's vectors by finite differences, and draws the random
  features' frequencies from ``N(0, M / l^2)`` with ``M`` its average ``J^T J`` (scaled to the
  identity's trace and blended with it: directions the pooled image ignores still count a little).
  The projection stays a sum of per-coordinate rows, so rating a candidate costs the same; only the
  model's construction pays the decoding. On the bank's development layers (2 units each, 3 seeds,
  noise-free) it gained .012/.017 at 100/250 queries on the SN-GAN grid and .04 at 100 on the
  VQ-VAE grid, level later.
- **The decoded image as a second view (``image=True``).** What a grid point means to the grid
  (a latent value, a code's vector) can hide what a unit responds to; the decoded image does not.
  With ``image`` the model keeps, beside the table's regressions, one per length scale on the
  stimulus's image avg-pooled to 8 x 8 (``GridFeatures.pixels``), and these views compete with
  the table's on the same predictive score. A candidate is decoded only when it is rated for a
  unit whose best view is an image view (and every measured stimulus, to score the views), so an
  image view costs decoding only where it predicts best.
- **Noise.** The observation noise of the regression is the larger of a floor and the searcher's
  own estimate of the measurement noise (from re-tests), relative to the spread of the responses:
  under noise the model smooths the measurements instead of following them.
- **Batched and incremental.** The regression keeps ``Phi^T Phi`` and ``Phi^T y`` per problem (or
  one ``Phi^T Phi`` for all problems in population mode, where every unit saw every stimulus: one
  multi-output model), so a step costs a ``F x F`` Cholesky per scale and problem, independent of
  how many stimuli were seen.

The random features are drawn from a fixed seed: they are the same for every problem, so a
problem's predictions depend on its own measurements only.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from mango_pl.grid_features import GridFeatures

#: seed of the random projections (the same for every problem and every run)
_PROJECTION_SEED = 0x6D616E67
#: the observation noise of the regression never drops below this share of the responses' variance
_NOISE_FLOOR = 1e-2
#: random grid points decoded to set the image views' centre and length scale
_IMAGE_PROBE = 256
#: decay of the per-scale error and of the trust (about the last 10 batches count)
_DECAY = 0.9
#: the image metric (``metric=True``): random points it is estimated at, the grid step of its finite
#: differences, its weight against the identity, and the largest table dimension ``d * r`` it is
#: estimated for (its decoding and its eigendecomposition grow with it)
_METRIC_BASES, _METRIC_STEP, _METRIC_BLEND, _METRIC_MAX_DIM = 4, 4, 0.9, 1024


def _prepared_table(features: GridFeatures | None, d: int, n: int, components: int) -> Tensor:
    """``[d, n, r]`` float64: each coordinate's table reduced to at most ``components`` principal
    components, centred, scaled to unit total variance per coordinate.

    Without features the index counts as an ordinal value (as the grid-stepping searchers see it)."""
    if features is None or not features.has_table:
        table = torch.linspace(-1.0, 1.0, n, dtype=torch.float64)[None, :, None].expand(d, -1, -1)
    else:
        table = features.coordinate_tables(d)
    table = table - table.mean(1, keepdim=True)
    if table.shape[-1] > components:
        if features is not None and features.has_table and not features.per_coordinate:  # one PCA, shared table
            _, _, vh = torch.linalg.svd(table[0], full_matrices=False)
            table = table @ vh[:components].T
        else:
            _, _, vh = torch.linalg.svd(table, full_matrices=False)
            table = table @ vh[:, :components].transpose(1, 2)
    spread = table.pow(2).sum(-1).mean(1, keepdim=True).sqrt().clamp_min(1e-12)  # [d, 1]
    return table / spread.unsqueeze(-1)


class ResponseModel:
    """Online Bayesian RFF regression of ``problems`` units' responses on grid points.

    Args:
        features: what grid values stand for; ``None``: the index as an ordinal value.
        d, n: the grid.
        problems: units modelled (``P``).
        shared: population mode: every stimulus is told for every unit (one design matrix).
        per_scale: random features per length scale (``F``).
        scales: RBF length scales, as multiples of the typical distance between random points.
        components: principal components kept of each coordinate's feature table.
        image: also model the response on the decoded image (``features.pixels``), one regression
            per length scale (the views listed in ``views``).
        metric: with features that carry ``pixels``, measure the table's distances as the decoded
            image changes (:func:`image_metric`; see the module doc); ``False``, or features without
            ``pixels``: every coordinate alike.
        device: where the model computes.

    Raises:
        ValueError: ``image`` without features that carry ``pixels``.

    Example:
        >>> model = ResponseModel(None, d=8, n=16, problems=2)
        >>> x = torch.randint(0, 16, (2, 30, 8))
        >>> model.add(x, -x.double().sub(7).abs().sum(-1))
        >>> mean, std = model.predict(torch.randint(0, 16, (2, 5, 8)))   # [2, 5] each
    """

    def __init__(self, features: GridFeatures | None, d: int, n: int, problems: int, shared: bool = False,
                 per_scale: int = 128, scales: tuple[float, ...] = (0.3, 0.6, 1.2, 2.4), components: int = 8,
                 image: bool = False, metric: bool = True, device: torch.device | str | None = None):
        if image and (features is None or features.pixels is None):
            raise ValueError("a response model on decoded images needs grid features with pixels "
                             "(pass features=space.grid_features())")
        self.d, self.n, self.problems, self.shared = d, n, problems, shared
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.per_scale = per_scale
        self.scales = tuple(float(s) for s in scales)
        kinds = ("table", "image") if image else ("table",)
        #: the regressions: ``("table", scale)`` for each scale, then ``("image", scale)`` with ``image``
        self.views = tuple((kind, s) for kind in kinds for s in self.scales)
        S, F = len(self.scales), per_scale
        table = _prepared_table(features, d, n, components)  # [d, n, r]
        r = table.shape[-1]
        generator = torch.Generator().manual_seed(_PROJECTION_SEED)
        # every coordinate has unit total variance, so two random points are ~ sqrt(2 d) apart
        typical = math.sqrt(2.0 * d)
        weights = torch.randn(d, r, S, F, generator=generator, dtype=torch.float64)
        #: whether the table's distances follow the decoded image (``image_metric``)
        self.metric = (metric and features is not None and features.pixels is not None and n > 1
                       and d * r <= _METRIC_MAX_DIM)
        if self.metric:  # frequencies ~ N(0, M / l^2): each row of weights mixed by a root of M
            root = image_metric(features, table, _METRIC_BASES, _METRIC_STEP, _METRIC_BLEND)
            weights = (root @ weights.reshape(d * r, S * F)).reshape(d, r, S, F)
        lengths = torch.tensor(self.scales, dtype=torch.float64) * typical
        weights = weights / lengths[:, None]
        # the projection of a point is the sum over coordinates of table[j, x_j] @ weights[j]
        rows = torch.einsum("jnr,jrsf->jnsf", table, weights).reshape(d * n, S * F)
        self._rows = rows.to(self.device, torch.float32)
        self._rows_by_scale = [self._rows[:, s * F:(s + 1) * F].contiguous() for s in range(S)]
        self._offsets = (torch.arange(d, device=self.device) * n)
        self._phase = (torch.rand(S, F, generator=generator, dtype=torch.float64) * 2 * math.pi).to(self.device)
        self._tables: dict[int, Tensor] = {}  # ascend's cos/sin tables, per table view
        self._features = features if image else None
        if image:
            mean, weights, image_phase = _image_projection(features, d, n, self.scales, F)
            self._pixel_mean, self._pixel_weights = mean.to(self.device), weights.to(self.device)
            self._phase = torch.cat([self._phase, image_phase.to(self.device)])
        S = len(self.views)
        groups = 1 if shared else problems
        self._gram = torch.zeros(S, groups, F, F, dtype=torch.float64, device=self.device)
        self._cross = torch.zeros(S, problems, F, dtype=torch.float64, device=self.device)  # Phi^T y
        self._sum_phi = torch.zeros(S, groups, F, dtype=torch.float64, device=self.device)  # Phi^T 1
        self._count = torch.zeros(problems, dtype=torch.float64, device=self.device)
        self._sum_y = torch.zeros(problems, dtype=torch.float64, device=self.device)
        self._sum_y2 = torch.zeros(problems, dtype=torch.float64, device=self.device)
        self._error = torch.zeros(S, problems, dtype=torch.float64, device=self.device)  # decayed
        self._error_weight = torch.zeros(problems, dtype=torch.float64, device=self.device)
        self.trust = torch.zeros(problems, dtype=torch.float64, device=self.device)
        #: decayed mean squared error of the chosen scale's predictions of measurements it had not
        #: seen (raw units; ``inf`` until scored): how far to believe the model beyond its own variance
        self.error_variance = torch.full((problems,), torch.inf, dtype=torch.float64, device=self.device)
        self._fit: tuple[Tensor, Tensor, Tensor, Tensor] | None = None  # weights, cholesky, mean, std
        self.noise_share = torch.full((problems,), _NOISE_FLOOR, dtype=torch.float64, device=self.device)

    # -- features ------------------------------------------------------------------------------

    def phi(self, index: Tensor) -> Tensor:
        """``index [..., d]`` -> random Fourier features of every view ``[S, ..., F]`` (float64)."""
        lead = index.shape[:-1]
        flat = index.reshape(-1, self.d).to(self.device).long()
        projected = torch.nn.functional.embedding_bag(flat + self._offsets, self._rows, mode="sum").double()
        projected = projected.view(-1, len(self.scales), self.per_scale).transpose(0, 1)  # [S, B, F]
        if self._features is not None:  # [P, K, d]: per problem; [N, d] (population mode): one set for all
            problems = index.shape[0] if index.dim() == 3 else 1
            projected = torch.cat([projected, self._image_projected(flat, problems=problems)])
        features = torch.cos(projected + self._phase[:, None]) * math.sqrt(2.0 / self.per_scale)
        return features.reshape(len(self.views), *lead, self.per_scale)

    def _image_projected(self, flat: Tensor, view: int | None = None, problems: int = 1) -> Tensor:
        """The image views' projections of ``flat [B, d]``: ``[S_image, B, F]`` (one view's ``[B, F]``).

        ``flat`` holds ``problems`` problems' points one after the other: each problem's are decoded
        and projected apart, so that its features (float32 decoders and matrix products vary with the
        batch) and hence its search do not depend on the other problems'."""
        weights = self._pixel_weights if view is None else self._pixel_weights[:, view - len(self.scales)]
        parts = []
        for part in flat.chunk(problems):
            pixels = self._features.images(part).to(self.device) - self._pixel_mean  # [b, f]
            parts.append(torch.einsum("bf,fsk->sbk", pixels, weights) if view is None else pixels @ weights)
        return torch.cat(parts, dim=1 if view is None else 0)

    # -- learning ------------------------------------------------------------------------------

    def add(self, index: Tensor, values: Tensor, features: Tensor | None = None) -> None:
        """Learn measurements: ``index [P, K, d]`` with ``values [P, K]``; population mode ``index [N, d]``
        with ``values [N, P]`` (every unit's response to every stimulus). ``features``: ``phi(index)``
        when the caller has it already (it just predicted these points)."""
        values = values.to(self.device, torch.float64)
        features = self.phi(index) if features is None else features
        if self.shared:  # features [S, N, F], values [N, P]
            self._gram[:, 0] += features.transpose(1, 2) @ features
            self._sum_phi[:, 0] += features.sum(1)
            self._cross += torch.einsum("snf,np->spf", features, values)
            self._count += values.shape[0]
            self._sum_y += values.sum(0)
            self._sum_y2 += values.pow(2).sum(0)
        else:  # features [S, P, K, F], values [P, K]
            self._gram += features.transpose(2, 3) @ features
            self._sum_phi += features.sum(2)
            self._cross += torch.einsum("spkf,pk->spf", features, values)
            self._count += values.shape[1]
            self._sum_y += values.sum(1)
            self._sum_y2 += values.pow(2).sum(1)
        self._fit = None

    def set_noise(self, variance: Tensor) -> None:
        """The measurement noise variance per problem ``[P]`` (raw units), e.g. from re-tests."""
        _, spread = self._moments()
        share = variance.to(self.device, torch.float64) / spread.pow(2).clamp_min(1e-300)
        self.noise_share = share.clamp(_NOISE_FLOOR, 10.0)
        self._fit = None

    def _moments(self) -> tuple[Tensor, Tensor]:
        count = self._count.clamp_min(1)
        mean = self._sum_y / count
        variance = (self._sum_y2 / count - mean.pow(2)).clamp_min(0)
        return mean, variance.sqrt()

    def _fitted(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Posterior weights ``[S, P, F]`` and Cholesky factors ``[S, G, F, F]`` of the standardized
        regression, with the responses' mean and spread ``[P]``."""
        if self._fit is None:
            mean, spread = self._moments()
            scale = spread.clamp_min(1e-12)
            noise = self.noise_share  # [P]
            group_noise = noise.mean().expand(1) if self.shared else noise  # [G]
            eye = torch.eye(self.per_scale, dtype=torch.float64, device=self.device)
            precision = self._gram / group_noise[None, :, None, None] + eye
            cholesky, info = torch.linalg.cholesky_ex(precision)
            if bool((info != 0).any()):  # numerically singular: a little more prior
                cholesky = torch.linalg.cholesky(precision + 1e-6 * eye)
            # Phi^T (y - mean) / spread
            sum_phi = self._sum_phi.expand(-1, self.problems, -1) if self.shared else self._sum_phi
            noise = group_noise.expand(self.problems) if self.shared else noise
            target = (self._cross - mean[None, :, None] * sum_phi) / scale[None, :, None] / noise[None, :, None]
            if self.shared:  # one factor, a right-hand side per problem
                weights = torch.cholesky_solve(target.transpose(1, 2).unsqueeze(1), cholesky)[:, 0].transpose(1, 2)
            else:
                weights = torch.cholesky_solve(target.unsqueeze(-1), cholesky).squeeze(-1)
            self._fit = (weights, cholesky, mean, scale)
        return self._fit

    # -- predicting ----------------------------------------------------------------------------

    def predict_all(self, index: Tensor, features: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Every scale's prediction for ``index [P, M, d]`` (population mode also ``[N, d]``, the same
        stimuli for every problem): mean and standard deviation ``[S, P, M]`` (raw units; the deviation
        is the model's uncertainty, without measurement noise). ``features``: ``phi(index)`` if known."""
        weights, cholesky, mean, scale = self._fitted()
        features = self.phi(index) if features is None else features  # [S, N, F] or [S, P, M, F]
        if self.shared and index.dim() == 2:  # stimuli shown to every problem: features once
            predicted = features @ weights.transpose(1, 2)  # [S, N, P]
            solved = torch.linalg.solve_triangular(cholesky[:, 0], features.transpose(1, 2), upper=False)
            std = solved.pow(2).sum(1).sqrt()  # [S, N]
            return (predicted.transpose(1, 2) * scale[None, :, None] + mean[None, :, None],
                    std[:, None, :] * scale[None, :, None])
        predicted = (features * weights.unsqueeze(2)).sum(-1)
        if self.shared:  # one factor for all problems: solve all candidates together
            S, P, M, F = features.shape
            flat = features.reshape(S, P * M, F).transpose(1, 2)  # [S, F, P*M]
            solved = torch.linalg.solve_triangular(cholesky[:, 0], flat, upper=False)
            variance = solved.pow(2).sum(1).reshape(S, P, M)
        else:
            solved = torch.linalg.solve_triangular(cholesky, features.transpose(2, 3), upper=False)
            variance = solved.pow(2).sum(2)  # [S, P, M]
        return predicted * scale[None, :, None] + mean[None, :, None], variance.sqrt() * scale[None, :, None]

    @property
    def has_images(self) -> bool:
        """Whether the model has image views (rating a candidate on them decodes it)."""
        return len(self.views) > len(self.scales)

    def best_scale(self, table_only: bool = False) -> Tensor:
        """``[P]`` the view (index into ``views``) whose recent predictions erred least (the middle table
        view at first); ``table_only``: the best of the table views."""
        fallback = torch.full((self.problems,), len(self.scales) // 2, dtype=torch.long, device=self.device)
        error = self._error[: len(self.scales)] if table_only else self._error
        return torch.where(self._error_weight > 0, error.argmin(0), fallback)

    def image_preferred(self) -> Tensor:
        """``[P]`` bool: whether a problem's best view is an image view."""
        return self.best_scale() >= len(self.scales)

    @staticmethod
    def _by_view(view: Tensor) -> list[tuple[int, Tensor]]:
        """``(view, problems)`` for each view in ``view [P]``: the problems (``LongTensor``) that use it."""
        return [(s, (view == s).nonzero().flatten()) for s in view.unique().tolist()]

    def predict(self, index: Tensor, table_only: bool = False, problems: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The chosen view's mean and uncertainty for ``index [P, M, d]``: ``[P, M]`` each (only that
        view's regression is evaluated; ``table_only``: the best table view's, which decodes nothing).
        ``problems``: ``index`` holds these problems' points only (``LongTensor[P]``)."""
        weights, cholesky, mean, scale = self._fitted()
        rows = torch.arange(self.problems, device=self.device) if problems is None else problems.to(self.device)
        best = self.best_scale(table_only)[rows]  # [P]
        mean, scale = mean[rows], scale[rows]
        P, M = index.shape[:2]
        points = index.reshape(P, M, self.d).to(self.device).long()
        chosen = torch.empty(P, M, self.per_scale, dtype=torch.float64, device=self.device)
        groups = self._by_view(best)
        for s, group in groups:  # project each problem on its own view's features only
            flat = points[group].reshape(-1, self.d)
            if s < len(self.scales):
                projected = torch.nn.functional.embedding_bag(flat + self._offsets, self._rows_by_scale[s],
                                                              mode="sum").double()
            else:  # an image view: these candidates are decoded
                projected = self._image_projected(flat, s, group.numel())
            chosen[group] = projected.view(group.numel(), M, self.per_scale)
        features = torch.cos(chosen + self._phase[best][:, None]) * math.sqrt(2.0 / self.per_scale)  # [P, M, F]
        predicted = (features * weights[best, rows].unsqueeze(1)).sum(-1)
        if self.shared:  # one factor per view for every problem: one solve per view
            std = torch.empty(P, M, dtype=torch.float64, device=self.device)
            for s, group in groups:
                flat = features[group].reshape(-1, self.per_scale).T  # [F, G * M]
                solved = torch.linalg.solve_triangular(cholesky[s, 0], flat, upper=False)
                std[group] = solved.pow(2).sum(0).sqrt().view(group.numel(), M)
        else:
            solved = torch.linalg.solve_triangular(cholesky[best, rows], features.transpose(1, 2), upper=False)
            std = solved.pow(2).sum(1).sqrt()
        return predicted * scale[:, None] + mean[:, None], std * scale[:, None]

    def ascend(self, start: Tensor, coordinates: Tensor, rounds: int, problems: Tensor | None = None) -> Tensor:
        """Greedy coordinate ascent of each problem's best table view's predicted mean.

        From ``start [P, E, d]``, each round sets the one coordinate among ``coordinates [P, E, C]``
        (not yet changed) to the value that the model predicts best, over every value of the grid;
        a round that finds nothing better keeps the point. Only the mean is evaluated, and without a
        cosine per candidate: a point's projection is a sum of table rows, so with coordinate ``j``
        set to ``v`` it is ``a + row[j, v]`` (``a``: the projection less the row of ``j``'s current
        value), and ``cos(a + row + phase) = cos a cos(row + phase) - sin a sin(row + phase)``, the
        latter two tabled once per view (:meth:`_value_tables`): a round is one small matrix product
        per coordinate offered. ``problems``: ``start`` holds these problems' points only
        (``LongTensor[P]``, as in :meth:`predict`).

        Returns:
            ``[P, E, rounds, d]``: the point after each round.
        """
        weights = self._fitted()[0]
        owner = torch.arange(self.problems, device=self.device) if problems is None else problems.to(self.device)
        view = self.best_scale(table_only=True)[owner]  # [P]
        P, E, d = start.shape
        C, n = coordinates.shape[-1], self.n
        point = start.to(self.device).long().clone()
        coordinates = coordinates.to(self.device).long()
        free = torch.ones(P, E, C, dtype=torch.bool, device=self.device)
        offered = torch.arange(C, device=self.device)
        out = []
        for _ in range(rounds):
            gain = torch.empty(P, E, C, n, dtype=torch.float32, device=self.device)
            for s, group in self._by_view(view):
                rows, tables, G = self._rows_by_scale[s], self._value_tables(s), group.numel()
                here, offer = point[group], coordinates[group]  # [G, E, d], [G, E, C]
                projected = torch.nn.functional.embedding_bag(here.reshape(-1, d) + self._offsets, rows,
                                                              mode="sum").view(G, E, 1, -1)
                rest = projected - rows[offer * n + here.gather(2, offer)]  # [G, E, C, F]
                w = weights[s, owner[group]].float().view(G, 1, 1, -1)
                left = torch.cat([w * torch.cos(rest), -w * torch.sin(rest)], -1).view(-1, 2 * self.per_scale)
                # the rows sorted by the coordinate they offer: one product per coordinate, on a slice
                flat = offer.reshape(-1)
                order = flat.argsort(stable=True)
                coordinate, count = flat[order].unique_consecutive(return_counts=True)
                products = [part @ tables[j].T for j, part in zip(coordinate.tolist(), left[order].split(count.tolist()))]
                values = torch.empty(flat.numel(), n, dtype=torch.float32, device=self.device)
                values[order] = torch.cat(products)
                phase = self._phase[s].float()
                now = (torch.cos(projected[:, :, 0] + phase) * w[:, :, 0]).sum(-1)  # [G, E]
                gain[group] = values.view(G, E, C, n) - now[..., None, None]
            gain = gain.masked_fill(~free[..., None], -torch.inf).flatten(2)
            best = gain.argmax(2)  # [P, E]
            c, value = best // n, best % n
            better = gain.gather(2, best[..., None])[..., 0] > 0
            coordinate = coordinates.gather(2, c[..., None])[..., 0]  # [P, E]
            point = torch.where(better[..., None], point.scatter(2, coordinate[..., None], value[..., None]), point)
            free = free & ~(better[..., None] & (offered == c[..., None]))
            out.append(point)
        return torch.stack(out, 2)

    def _value_tables(self, view: int) -> Tensor:
        """``[d, n, 2F]`` float32: ``cos`` and ``sin`` of each coordinate value's row of table view
        ``view`` plus its phase (made on first use: ``d * n * 2F`` numbers per view)."""
        if view not in self._tables:
            angle = self._rows_by_scale[view].view(self.d, self.n, -1) + self._phase[view].float()
            self._tables[view] = torch.cat([torch.cos(angle), torch.sin(angle)], -1)
        return self._tables[view]

    def score(self, predicted: Tensor, uncertainty: Tensor, values: Tensor, mask: Tensor) -> None:
        """Score every scale on measurements it predicted before learning them.

        Args:
            predicted, uncertainty: ``[S, P, K]`` the predictions made before the measurement.
            values: ``[P, K]`` the measurements.
            mask: ``[P, K]`` which of them were predicted (screened children, not re-tests).
        """
        values = values.to(self.device, torch.float64)
        mask = mask.to(self.device)
        _, spread = self._moments()
        scale = spread.clamp_min(1e-12)
        variance = uncertainty.pow(2) + self.noise_share[None, :, None] * scale[None, :, None].pow(2)
        error = (values.unsqueeze(0) - predicted).pow(2) / variance + torch.log(variance / scale[None, :, None].pow(2))
        count = mask.double().sum(1)  # [P]
        batch = torch.where(mask.unsqueeze(0), error, torch.zeros_like(error)).sum(2) / count.clamp_min(1)
        seen = count > 0
        self._error = torch.where(seen, _DECAY * self._error + batch, self._error)
        self._error_weight = torch.where(seen, _DECAY * self._error_weight + 1, self._error_weight)
        # trust: the within-batch correlation of the chosen scale's predictions with the measurements
        chosen = predicted.gather(0, self.best_scale()[None, :, None].expand(1, -1, predicted.shape[2]))[0]
        squared = torch.where(mask, (values - chosen).pow(2), torch.zeros_like(values)).sum(1) / count.clamp_min(1)
        squared = (squared - self.noise_share * scale.pow(2)).clamp_min(0)  # less the measurement noise
        self.error_variance = torch.where(seen, torch.where(torch.isfinite(self.error_variance), _DECAY *
                                                            self.error_variance + (1 - _DECAY) * squared, squared),
                                          self.error_variance)
        correlation = _masked_correlation(chosen, values, mask)
        enough = count >= 3
        self.trust = torch.where(enough, _DECAY * self.trust + (1 - _DECAY) * correlation, self.trust)


def image_metric(features: GridFeatures, table: Tensor, bases: int, step: int, blend: float) -> Tensor:
    """A symmetric root ``[d r, d r]`` of the metric in which the table's distances follow the decoded image.

    ``table [d, n, r]`` is the model's prepared table (each coordinate at unit total variance). At
    ``bases`` random grid points (from a fixed seed) every coordinate is moved to ``r`` other values
    (``step``, ``2 step``, ... grid values up, reflected down at the end of the grid, modulo the
    grid's ``n`` values) and every point
    is decoded (``features.images``); the change of the pooled image against the change of the
    coordinate's vector gives, by least squares, that coordinate's block of the Jacobian ``J [f, d r]``
    at each base. The metric is the bases' average ``J^T J`` scaled to trace ``d`` (the identity's
    when each coordinate is one unit-variance value, as an SN-GAN latent's), blended with the
    identity: ``blend * M + (1 - blend) * I``. (Scaling it instead so that two random points of a
    VQ-VAE grid lie as far apart as in the identity's metric lost .014 at 250 queries on the bank's
    development layers, where this scaling gained .04 at 100.)

    Example:
        >>> values = torch.linspace(-1, 1, 8, dtype=torch.float64)
        >>> table = ((values - values.mean()) / values.std(unbiased=False))[None, :, None].expand(3, -1, -1)
        >>> pixels = lambda index: table[0, index, 0] * torch.tensor([1.0, 0.0, 0.0])   # only coordinate 0 shows
        >>> root = image_metric(GridFeatures(table[0], "latent", pixels=pixels), table, 2, 1, 1.0)
        >>> (root @ root).diagonal().round()    # all of the metric's weight on coordinate 0
        tensor([3., 0., 0.], dtype=torch.float64)
    """
    d, n, r = table.shape
    generator = torch.Generator().manual_seed(_PROJECTION_SEED + 2)
    base = torch.randint(0, n, (bases, d), generator=generator)
    shift = 1 + (step * torch.arange(1, r + 1) - 1) % (n - 1)  # [r], each in 1..n-1: never the base's value
    moved = base[..., None] + shift
    moved = torch.where(moved < n, moved, base[..., None] - shift) % n  # [bases, d, r]
    points = base[:, None, None].repeat(1, d, r, 1)  # [bases, coordinate moved, move, d]
    rows = torch.arange(d)
    points[:, rows, :, rows] = moved.transpose(0, 1)
    pixels = features.images(torch.cat([base, points.reshape(-1, d)])).cpu()
    origin, shifted = pixels[:bases], pixels[bases:].reshape(bases, d, r, -1)
    table = table.cpu()
    change = table[rows[None, :, None], moved] - table[rows[None, :], base][:, :, None]  # [bases, d, r(move), r]
    jacobian = torch.linalg.lstsq(change, shifted - origin[:, None, None]).solution  # [bases, d, r, f]
    jacobian = jacobian.reshape(bases, d * r, -1)
    metric = torch.einsum("bif,bjf->ij", jacobian, jacobian) / bases
    metric = blend * metric * d / metric.trace().clamp_min(1e-300) + (1 - blend) * torch.eye(d * r, dtype=torch.float64)
    values, vectors = torch.linalg.eigh(metric)
    return vectors @ torch.diag(values.clamp_min(0).sqrt()) @ vectors.T


def _image_projection(features: GridFeatures, d: int, n: int, scales: tuple[float, ...],
                      per_scale: int) -> tuple[Tensor, Tensor, Tensor]:
    """The image views' random projection: the mean pooled image of random grid points ``[f]``, the
    weights ``[f, S, F]`` (a length scale of 1 is the typical distance between two random points'
    images) and the phases ``[S, F]``; from their own fixed seed (the table views' draws stay as
    they are without images)."""
    generator = torch.Generator().manual_seed(_PROJECTION_SEED + 1)
    probe = torch.randint(0, n, (_IMAGE_PROBE, d), generator=generator)
    pixels = features.images(probe)  # [B, f]
    mean = pixels.mean(0)
    typical = math.sqrt(2.0) * (pixels - mean).pow(2).sum(1).mean().sqrt().clamp_min(1e-12)
    lengths = torch.tensor(scales, dtype=torch.float64) * typical
    weights = torch.randn(pixels.shape[1], len(scales), per_scale, generator=generator, dtype=torch.float64)
    phase = torch.rand(len(scales), per_scale, generator=generator, dtype=torch.float64) * 2 * math.pi
    return mean, weights / lengths[:, None], phase


def _masked_correlation(x: Tensor, y: Tensor, mask: Tensor) -> Tensor:
    """Pearson correlation of ``x`` and ``y`` ``[P, K]`` over the entries of ``mask``, per row (0 if flat)."""
    weight = mask.double()
    count = weight.sum(1, keepdim=True).clamp_min(1)
    xc = (x - (x * weight).sum(1, keepdim=True) / count) * weight
    yc = (y - (y * weight).sum(1, keepdim=True) / count) * weight
    denominator = (xc.pow(2).sum(1) * yc.pow(2).sum(1)).sqrt()
    return torch.where(denominator > 1e-12, (xc * yc).sum(1) / denominator.clamp_min(1e-300),
                       torch.zeros_like(denominator))
