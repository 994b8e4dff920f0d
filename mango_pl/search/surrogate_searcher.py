"""``surrogate``: ``elite``'s evolution, with every child screened by a model of the unit first.

Every stimulus a searcher proposes stands for something — a latent vector, a set of VQ-VAE codes
— and every response it measured says how the unit answers to it. This searcher fits, online, a
model of each unit's response on what the grid points mean (a
:class:`~mango_pl.search.response_model.ResponseModel`: Bayesian regression on random Fourier
features of the grid features, several length scales, the one that predicted best used) and
spends real queries only on the children the model rates highest:

1. each step, ``elite``'s machinery (see :mod:`mango_pl.search.elite_searcher`) breeds ``screen``
   candidate children per query it will make — grid steps, jumps, ES moves and linear-model
   steps around the best elites, all adapting as in ``elite``;
2. beside them, the model's own proposals: from each of the 2 best elites, a greedy ascent of the
   model's predicted mean, 3 rounds, each setting one of 16 random coordinates to the best value of
   the grid (every value of every offered coordinate is rated: :meth:`ResponseModel.ascend`); the
   point after each round is a candidate. Random mutations rate a few hundred of the grid's
   neighbours of the elites; the ascent rates thousands along the coordinates, which is what brings
   a unit's last few per cent (on the bank's development layers, 2 units each, at 2,000 queries:
   VQ-VAE .948 → .972 of the reference, 58 % → 75 % of the units within 5 % of it; SN-GAN .898 →
   .929, 42 % → 50 %). The ascents measured per batch follow the model's trust and their own
   success (``_ascents_capped``), so a model that misleads gets few;
3. the model rates every candidate by an upper confidence bound, ``mean + explore * std``;
4. the best ``K`` distinct candidates are measured, except a share that is taken unscreened (the
   first candidates bred, i.e. ``elite``'s own proposals), so a wrong model cannot steer the
   search alone. That share follows the model's ``trust`` — the correlation of its predictions
   with the measurements it had not yet seen, over the last batches: half the batch while the
   model predicts nothing, ``min_unscreened`` of it once it predicts well.

Noise: the model's observation noise is the measurement noise ``elite`` estimates from its
re-tests, so under noise it predicts a smoothed response; re-tests, elite ranking and
``recommend()`` are ``elite``'s. Population mode: one model for all units (every unit saw every
stimulus; one design, one factorization per step, a regression target per unit), each unit's
proposals screened by its own output. The units proposing that step (half of them) also climb the
model, from their best elite only and all over the same coordinates (one matrix product per
coordinate for them all), as many ascents as each one's trust allows: the model has learned every
shared stimulus, so its ascents are what a unit that proposes 2 of every 64 stimuli needs most (the
bank's AlexNet ``features.1``, 64 channels, 3,000 stimuli, 3 seeds, each unit's score over its own
2,000-query search: VQ-VAE .853 -> .931 on average, 10th percentile .656 -> .722; SN-GAN .841 ->
.861, .725 -> .768). Only ``shared_screen=2`` candidates are bred per stimulus, so that choosing a
stimulus still costs less than that small network answering it (``optimizer_overhead.py
--population``).

Without grid features (``maximize`` without ``features=``), the model sees each index as an
ordinal value, as ``elite``'s grid steps do; with a VQ-VAE's codebook or an SN-GAN's latent
values (``space.grid_features()``) it sees what the stimuli are, and, since those features also
decode, it measures how far apart two stimuli are by how differently their images look
(``image_metric``: the generator's sensitivity, estimated once from a few hundred to a few thousand
decoded images; through the bank's SN-GAN 5 of the 128 latent directions carry 75 % of the image's
change, and a kernel blind to that spends its data on directions the image ignores).

``surrogate-image`` (``image=True``) also models the response on the decoded image of every
stimulus (avg-pooled to 8 x 8; ``GridFeatures.pixels``, which ``space.grid_features()`` carries):
its image views compete with the grid's on how well they predict, and candidates are decoded for
the units whose best view is an image view. It costs a decode per candidate rated that way (about
320 per unit and step), so it suits a live neuron (``mango-pl loop``, where a stimulus costs a
second) more than a search during training; the bank's report says what it gains.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mango_pl.checks import check_bool, check_fraction, check_int, check_number, check_positive_int
from mango_pl.search.archive import first_occurrence
from mango_pl.search.elite_searcher import EliteSearcher
from mango_pl.grid_features import GridFeatures
from mango_pl.search.response_model import ResponseModel
from mango_pl.search.seeding import Seeds

#: the kind of change (``elite``'s kinds are 0-3) of a candidate from the model's ascent: it takes no
#: part in ``elite``'s adaptation of its own moves
_ASCENT = 4


class SurrogateSearcher(EliteSearcher):
    """``elite`` whose children are screened by an online model of each unit's response.

    Args:
        d, n, problems, seed, device, budget: see ``Searcher``.
        screen: candidate children bred per child measured.
        explore: weight of the model's uncertainty in the rating (upper confidence bound).
        min_unscreened: the least share of a batch taken unscreened (when the model predicts well).
        max_unscreened: the share taken unscreened while the model predicts nothing.
        features_per_scale: random Fourier features per length scale of the model.
        image_metric: when the features carry decoded images, measure the model's distances as the
            image changes (``ResponseModel``'s ``metric``: a few hundred to a few thousand images
            decoded once per search, when the model is built); ``False``: every coordinate alike.
            Not in population mode: there one model learns every unit's thousands of shared stimuli,
            the metric was level on the bank's population layer (3,000 stimuli, 3 seeds: VQ-VAE .929
            vs .931 of each unit's own search, SN-GAN .859 vs .861) and its decoding would add about
            a tenth to the time spent choosing stimuli.
        image: also model the response on the decoded images (``features.pixels``; needs
            ``features=space.grid_features()``; the ``surrogate-image`` method).
        decoded_share: with ``image``, for a unit whose best view is an image view, the share of the
            candidates decoded and rated on it: the ones the best table view rates highest (the
            unscreened ones always); a table view's unit is rated as without ``image``. 1: every
            candidate (the default; on the bank's quick run 0.25 halves the optimizer time and loses
            about 40 % of what the images gain on the SN-GAN grid).
        ascent: rounds of the model's greedy ascent from the best elites (0: none); each round's
            point is a candidate.
        ascent_starts: elites an ascent starts from (the best ones).
        ascent_coordinates: coordinates each round may change (drawn at random each step); every
            value of each is rated.
        smooth: under noise, rank elites (and choose the result) on their measurements shrunk toward
            the model's prediction (``EliteArchive.prior``) rather than toward the archive's average.
        shared_screen: population mode: candidates bred per stimulus shown (the model screens for
            every unit, and choosing a stimulus must cost less than the network answering it; 2
            rated as well as 4 on the bank's population layer, with ascents, at less cost).
        k, archive, initial, crossover, mutation, step, retest, shared_k, leaders, uncertainty,
            temperature: ``elite``'s options, with the same defaults except that children start
            with twice ``elite``'s moves (``mutation=8``, ``step=0.2``): screening makes larger
            moves affordable, and they paid on the bank's development layers) and that population
            mode shows ``shared_k=64`` stimuli per step (half as many steps: choosing a stimulus
            then costs less than a small network's answer to it), and that under noise re-tests
            choose among the 8 best elites (``leaders=8``, not 4): the model's smoothing ranks the
            elites on their neighbours' measurements too, so re-testing a broader set pays (bank
            development layers, 2 units, 6 seeds, sigma = 0.5, 100 ... 2,000 queries: SN-GAN
            +.004/+.014/+.006/+.013/+.016, VQ-VAE +.012/-.001/+.020/+.025/+.005 of the reference;
            16 leaders did no better). Without noise the one re-test made (of the best elite, which
            shows no noise) is the same either way, so noise-free searches are unchanged.

    Raises:
        ValueError: bad option values; at the first ``ask``, ``image`` without features that carry
            decoded images.

    Example:
        >>> s = SurrogateSearcher(d=16, n=8, problems=2)
        >>> index = s.ask()
        >>> s.tell(index, -(index - 3).abs().sum(-1).double())
    """

    method = "surrogate"
    uses_features = True

    def __init__(self, d: int, n: int, problems: int = 1, seed: Seeds = 0,
                 device: torch.device | str | None = None, budget: int | None = None, *,
                 screen: int = 32, explore: float = 1.0, min_unscreened: float = 0.2, max_unscreened: float = 0.4,
                 features_per_scale: int = 128, shared_screen: int = 2, smooth: bool = True, image: bool = False,
                 decoded_share: float = 1.0, image_metric: bool = True, ascent: int = 3, ascent_starts: int = 2,
                 ascent_coordinates: int = 16,
                 k: int = 10, archive: int = 16, initial: int = 20, crossover: float = 0.3,
                 mutation: float = 8.0, step: float = 0.2, retest: float = 0.3, shared_k: int = 64,
                 leaders: int = 8, uncertainty: float = 2.0, temperature: float = 3.0):
        super().__init__(d, n, problems, seed, device, budget, k=k, archive=archive, initial=initial,
                         crossover=crossover, mutation=mutation, step=step, retest=retest, shared_k=shared_k,
                         leaders=leaders, uncertainty=uncertainty, temperature=temperature)
        self.screen = check_positive_int("option screen", screen)
        self.explore = check_number("option explore", explore, 0.0, 10.0)
        self.min_unscreened = check_fraction("option min_unscreened", min_unscreened)
        self.max_unscreened = check_fraction("option max_unscreened", max_unscreened)
        if self.min_unscreened > self.max_unscreened:
            raise ValueError(f"option min_unscreened ({min_unscreened}) must not exceed max_unscreened ({max_unscreened})")
        self.features_per_scale = check_int("option features_per_scale", features_per_scale, 8)
        self.shared_screen = check_positive_int("option shared_screen", shared_screen)
        self.smooth = check_bool("option smooth", smooth)
        self.image = check_bool("option image", image)
        self.decoded_share = check_fraction("option decoded_share", decoded_share)
        self.image_metric = check_bool("option image_metric", image_metric)
        self.ascent = check_int("option ascent", ascent, 0)
        self.ascent_starts = check_positive_int("option ascent_starts", ascent_starts)
        self.ascent_coordinates = check_positive_int("option ascent_coordinates", ascent_coordinates)
        self.options.update(screen=self.screen, explore=self.explore, min_unscreened=self.min_unscreened,
                            max_unscreened=self.max_unscreened, features_per_scale=self.features_per_scale,
                            shared_screen=self.shared_screen, smooth=self.smooth, ascent=self.ascent,
                            ascent_starts=self.ascent_starts, ascent_coordinates=self.ascent_coordinates)
        if self.image:  # recorded only when set, so that the default's options read as before
            self.options.update(image=True, decoded_share=self.decoded_share)
        if not self.image_metric:
            self.options.update(image_metric=False)
        self.model: ResponseModel | None = None
        #: decayed successes and trials of the ascents (column 0) and of the other children (column 1)
        self.ascent_wins = torch.full((self.problems, 2), 0.2, dtype=torch.float64, device=self.device)
        self.ascent_trials = torch.ones(self.problems, 2, dtype=torch.float64, device=self.device)

    def _use_features(self, features: GridFeatures) -> None:
        self.model = None  # built at the first tell, when the mode (population or not) is known

    def _ensure_model(self, shared: bool) -> ResponseModel:
        if self.model is None:
            self.model = ResponseModel(self.features, self.d, self.n, self.problems, shared=shared,
                                       per_scale=self.features_per_scale, image=self.image,
                                       metric=self.image_metric and not shared, device=self.device)
        return self.model

    def _check_images(self) -> None:
        """Before the first stimulus: ``image`` needs features that decode (nothing measured yet)."""
        if self.image and (self.features is None or self.features.pixels is None):
            raise ValueError("method surrogate-image (option image=True) models the decoded images: pass "
                             "features=space.grid_features() (mango-pl's callback, search and loop do)")

    def _ask(self) -> Tensor:
        if self.model is None:
            self._check_images()
        return super()._ask()

    def _ask_shared(self) -> Tensor:
        if self.model is None:
            self._check_images()
        return super()._ask_shared()

    # -- screening -------------------------------------------------------------------------------

    def trust_level(self) -> Tensor:
        """``[P]`` how far the search relies on the model: 0 while it predicts nothing, 1 once the
        correlation of its predictions with the measurements it had not seen reaches 0.5."""
        if self.model is None:
            return torch.zeros(self.problems, dtype=torch.float64, device=self.device)
        return self.model.trust.clamp(0.0, 0.5) / 0.5

    def unscreened_share(self) -> Tensor:
        """``[P]`` the share of a batch measured without screening, from the model's trust."""
        return self.max_unscreened + (self.min_unscreened - self.max_unscreened) * self.trust_level()

    def _children(self, K: int) -> dict[str, Tensor]:
        screen = self.shared_screen if self.model is not None and self.model.shared else self.screen
        if self.model is None or screen == 1:
            return super()._children(K)
        born = super()._children(K * screen)
        repeated = None
        if self.ascent:
            born, repeated, allowed = self._with_ascents(born, K)
        rating = self._rating(born["index"])  # [P, M]
        if repeated is not None:
            rating = rating.masked_fill(repeated, -torch.inf)
        # the first candidates bred are elite's own proposals: a share of them is measured unscreened
        unscreened = (self.unscreened_share() * K).round().long()  # [P]
        reserved = torch.arange(rating.shape[1], device=self.device)[None, :] < unscreened[:, None]
        rating = torch.where(reserved, torch.full_like(rating, torch.inf), rating)
        if self.model.has_images:
            rating = self._rated_on_images(born["index"], rating, K)
        if repeated is not None:  # the model's own proposals: as many as its trust allows
            rating = self._ascents_capped(rating, born["kind"] == _ASCENT, allowed)
        chosen = rating.topk(K, dim=1).indices.sort(dim=1).values  # [P, K], in breeding order
        return {key: value.gather(1, chosen.unsqueeze(-1).expand(-1, -1, self.d)) if value.dim() == 3
                else value.gather(1, chosen) for key, value in born.items()}

    def _rating(self, index: Tensor) -> Tensor:
        """``[P, M]`` the model's upper confidence bound of each candidate (``index [P, M, d]``;
        population mode: the proposers' only, the other problems' candidates are never shown)."""
        if self._proposers is None:
            mean, std = self.model.predict(index, table_only=self.model.has_images)
            return mean + self.explore * std
        serving = self._proposers
        mean, std = self.model.predict(index[serving], table_only=self.model.has_images, problems=serving)
        rating = torch.full(index.shape[:2], -torch.inf, dtype=mean.dtype, device=self.device)
        rating[serving] = mean + self.explore * std
        return rating

    def _proposing(self) -> Tensor:
        """``[P]`` bool: the problems whose children will be shown (population mode: this step's
        proposers; otherwise every problem)."""
        if self._proposers is None:
            return torch.ones(self.problems, dtype=torch.bool, device=self.device)
        return torch.zeros(self.problems, dtype=torch.bool, device=self.device).index_fill_(0, self._proposers, True)

    def _ascents_allowed(self, K: int) -> Tensor:
        """``[P]`` how many of ``K`` children may be the model's ascents: up to half the batch, in
        proportion to the model's trust and to the square of how often ascents beat their start
        compared with how often the other children beat their parents (capped at 1), rounded at
        random (so that a little share still gets measured, and the ascents' success with it). A
        model that predicts poorly would otherwise spend the batch on its own mistakes: on a planted
        unit whose model barely predicts (``-|x - target|``, d=24, n=32, 300 queries, 10 seeds),
        ascents without a cap took 40 % of every batch and lost 5-20 % of the score; capped, they are
        level with no ascents (-51.8 vs -50.8). A problem allowed none does not climb at all."""
        rate = self.ascent_wins / self.ascent_trials  # [P, 2]: ascents, other children
        relative = (rate[:, 0] / rate[:, 1].clamp_min(1e-12)).clamp_max(1.0).pow(2)
        share = self.trust_level() * relative * K * 0.5
        return (share + self._rng.uniform(1)[:, 0]).floor().long()

    @staticmethod
    def _ascents_capped(rating: Tensor, ascent: Tensor, allowed: Tensor) -> Tensor:
        """``rating`` with the ascents (``ascent [P, M]``) beyond the best ``allowed [P]`` of them
        out of the running (see ``_ascents_allowed``)."""
        ranked = rating.masked_fill(~ascent, -torch.inf)  # the ascents first, best first
        rank = ranked.argsort(dim=1, descending=True, stable=True).argsort(dim=1)
        return rating.masked_fill(ascent & (rank >= allowed[:, None]), -torch.inf)

    def _with_ascents(self, born: dict[str, Tensor], K: int) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """``born`` and, after it, the model's greedy ascents from the best elites: ``ascent`` rounds
        from each of the ``ascent_starts`` best (population mode: the best), each round over
        ``ascent_coordinates`` random coordinates (every point of a round is a candidate, of kind
        ``_ASCENT`` and its start's score); and ``[P, M]`` which candidates repeat an elite or an
        earlier candidate (never measured); and ``[P]`` how many of the ``K`` children measured may
        be ascents (``_ascents_allowed``). Only the problems allowed one (and, in population mode,
        proposing this step) climb; the others' ascents are their starts, which repeat an elite."""
        scores = self.elites.scores()
        E = min(self.ascent_starts if self._proposers is None else 1, self.archive_size)
        top = scores.topk(E, dim=1)
        start = self.elites.index.gather(1, top.indices.unsqueeze(-1).expand(-1, -1, self.d))
        C = min(self.ascent_coordinates, self.d)
        if self._proposers is None:
            coordinates = self._rng.uniform(E, self.d).argsort(-1)[..., :C]
        else:  # population mode: every problem over the same coordinates (one product per coordinate)
            coordinates = self._shared_rng.uniform(self.d)[0].argsort()[:C].expand(self.problems, E, C)
        allowed = self._ascents_allowed(K)
        climbing = (allowed > 0) & self._proposing()
        points = start[:, :, None].expand(-1, -1, self.ascent, -1).clone()
        rows = climbing.nonzero().flatten()
        if rows.numel():
            points[rows] = self.model.ascend(start[rows], coordinates[rows], self.ascent, problems=rows)
        points = points.flatten(1, 2)  # [P, E * rounds, d]
        parent = top.values.repeat_interleave(self.ascent, 1)
        parent = torch.where(torch.isfinite(parent), parent, born["parent_score"][:, :1].expand_as(parent))
        extra = {"index": points, "parent_score": parent, "kind": torch.full_like(parent, _ASCENT, dtype=torch.long)}
        born = {key: torch.cat([born[key], extra[key]], 1) for key in born}
        M = born["index"].shape[1]
        repeated = (self.elites.match(born["index"]) >= 0) | (
            first_occurrence(born["index"]) != torch.arange(M, device=self.device))
        return born, repeated, allowed

    def _rated_on_images(self, index: Tensor, rating: Tensor, K: int) -> Tensor:
        """The units whose best view is an image view: the ``decoded_share`` of their candidates that
        the table view rates highest (and the unscreened ones, rated ``inf``) are decoded and rated on
        the image view, the others drop out. The other units keep their table view's ``rating``, so a
        unit's choice never depends on the others'. In population mode only the proposers' candidates
        are decoded (the others' are never shown)."""
        group = (self.model.image_preferred() & self._proposing()).nonzero().flatten()
        if group.numel() == 0:
            return rating
        kept = min(rating.shape[1], max(K, round(rating.shape[1] * self.decoded_share)))
        top = rating[group].topk(kept, dim=1).indices.sort(dim=1).values  # [G, kept]
        points = index[group].gather(1, top.unsqueeze(-1).expand(-1, -1, self.d))
        mean, std = self.model.predict(points, problems=group)
        unscreened = torch.isinf(rating[group].gather(1, top))
        rated = torch.full_like(rating[group], -torch.inf)
        rated.scatter_(1, top, torch.where(unscreened, torch.inf, mean + self.explore * std))
        rating = rating.clone()
        rating[group] = rated
        return rating

    def _model_step(self, origin: Tensor, scale: Tensor, jitter: Tensor) -> Tensor:
        """Population mode: no step along ``elite``'s linear model (a ``d x d`` fit per unit that would
        cost more than the network's answers); the response model's screening guides the children."""
        if self.model is not None and self.model.shared:
            return origin[:, None].expand(-1, scale.shape[1], -1).round().long()
        return super()._model_step(origin, scale, jitter)

    # -- learning --------------------------------------------------------------------------------

    def _learn(self, values: Tensor, pending: dict[str, Tensor]) -> None:
        """``elite``'s adaptation (ascents, kind ``_ASCENT``, take no part in it) and the ascents' and
        the other children's decayed success rates against their parents."""
        super()._learn(values, pending)
        K = values.shape[1]
        child, kind = pending["child"][:, :K], pending["kind"][:, :K]
        success = values > pending["parent_score"][:, :K]
        for column, mask in enumerate((child & (kind == _ASCENT), child & (kind != _ASCENT))):
            self.ascent_trials[:, column] = 0.95 * self.ascent_trials[:, column] + mask.double().sum(1)
            self.ascent_wins[:, column] = 0.95 * self.ascent_wins[:, column] + (success & mask).double().sum(1)

    def _tell(self, index: Tensor, values: Tensor) -> None:
        pending = self._pending
        model = self._ensure_model(shared=False)
        features = model.phi(index)  # scored on, then learned from
        if self.told >= self.initial:  # score the model on what it had to predict
            mask = pending["child"][:, : values.shape[1]] if pending is not None else torch.ones_like(values, dtype=torch.bool)
            predicted, uncertainty = model.predict_all(index, features)
            model.score(predicted, uncertainty, values, mask)
        super()._tell(index, values)
        self._learned(model, index, values, features)

    def _tell_shared(self, index: Tensor, values: Tensor) -> None:
        model = self._ensure_model(shared=True)
        features = model.phi(index)
        if self.told >= self.initial:
            predicted, uncertainty = model.predict_all(index, features)
            model.score(predicted, uncertainty, values.T, torch.ones_like(values.T, dtype=torch.bool))
        super()._tell_shared(index, values)
        self._learned(model, index, values, features)

    def _learned(self, model: ResponseModel, index: Tensor, values: Tensor, features: Tensor) -> None:
        """The model learns the measurements (``features = model.phi(index)``) and the noise; under
        noise it becomes the archive's prior."""
        model.add(index, values, features)
        model.set_noise(self.noise())
        if self.smooth and self.elites.prior is None:
            self.elites.prior = self._prior
        self.elites.prior_changed()

    def _prior(self, points: Tensor) -> tuple[Tensor, Tensor]:
        """The model's mean and variance of the true response at ``points [P, M, d]``: its own
        uncertainty plus its recent error on measurements it had to predict (so a model that
        predicts poorly barely moves the estimates)."""
        mean, std = self.model.predict(points)
        return mean, (std.pow(2) + self.model.error_variance[:, None]).clamp_max(1e300)
