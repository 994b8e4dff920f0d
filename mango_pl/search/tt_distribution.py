"""The PROTES probability tensor in TT format, batched over problems, as pure torch functions.

PROTES (Batsheva et al., NeurIPS 2023) keeps a tensor train whose core ``j`` holds an ``r x r``
matrix ``Y_j[i]`` for each value ``i`` of mode ``j`` (the reference's ``Y[:, i, :]``). Here ``P``
problems are kept at once as ``cores: [P, D, r, r, n]`` with ``cores[p, j, :, :, i]`` the
transpose of ``Y_j[i]``: the value axis is innermost, so the operations on the whole tensor (mode
weights, their gradient, the gradient itself) are products over contiguous ``[r, r * n]`` blocks
or elementwise ops that vectorize along the values. Only row 0 of the first core and column 0 of
the last core are used (the reference keeps cores of shape ``[1, n, r]`` and ``[r, n, 1]``); the
other entries are zero and stay zero. The distribution is the one of the reference
implementation (``protes.protes``): mode ``j`` is drawn from

    G_j(i) = |a_j Y_j[i] b_j| / sum_i' |a_j Y_j[i'] b_j|,

where ``a_j`` is the product of the slices left of ``j`` at the drawn indices and ``b_j`` the product
of the index-summed cores right of ``j``. Positive rescaling of ``a_j`` or ``b_j`` does not change
``G_j``, so partial products are divided by their norms (for range only).

The vectors ``a_j`` and ``b_j`` come from blocked scans: about ``2 sqrt(D)`` batched matmuls
instead of ``D`` sequential ones. Sampling is sequential over modes (or blocks of modes), a few
batched ops per step for all ``P x K`` samples together.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


def _rescaled(x: Tensor) -> Tensor:
    """``x[..., r, r]`` divided by its norm (the scale is cut from the graph: results are scale-free)."""
    scale = torch.linalg.matrix_norm(x.detach(), keepdim=True).clamp_min_(torch.finfo(x.dtype).tiny)
    return x / scale


def prefix_rows(m: Tensor) -> Tensor:
    """Row 0 of ``m[0] @ ... @ m[j]`` (up to scale) for ``m: [L, B, r, r]`` of norm about 1, ``[L, B, r]``.

    A blocked scan in about ``2 sqrt(L)`` batched steps: products inside ``sqrt(L)`` blocks of
    ``sqrt(L)`` matrices (one step per position, all blocks at once), the row entering each block
    (one vector-matrix step per block), then one batched vector-matrix product for all positions.
    """
    L, B, r = m.shape[0], m.shape[1], m.shape[-1]
    size = max(1, round(L ** 0.5))
    blocks = -(-L // size)
    if blocks * size > L:
        m = torch.cat((m, torch.eye(r, dtype=m.dtype, device=m.device).expand(blocks * size - L, B, r, r)))
    steps = m.view(blocks, size, B, r, r).transpose(0, 1).reshape(size, blocks * B, r, r).unbind(0)
    within = [steps[0]]
    for step in steps[1:]:
        within.append(torch.bmm(within[-1], step))  # products of up to sqrt(L) factors: no rescaling
    within = torch.stack(within).view(size, blocks, B, r, r)  # within[t, b] = m[b*size] ... m[b*size+t]
    row = _unit((B, 1), r, m)
    starts = [row]
    for b, total in enumerate(_rescaled(within[-1]).unbind(0)[:-1]):
        row = torch.bmm(row, total)
        if b % 4 == 3:
            scale = torch.linalg.vector_norm(row.detach(), dim=-1, keepdim=True)
            row = row / scale.clamp_min_(torch.finfo(m.dtype).tiny)
        starts.append(row)
    # rows[t, b] = starts[b] @ within[t, b], as a product and a sum: the backward of a broadcast
    # matmul sums over t in an order that depends on B (a problem would depend on its batch)
    rows = (torch.stack(starts).transpose(-1, -2) * within).sum(-2)  # [size, blocks, B, r]
    return rows.transpose(0, 1).reshape(blocks * size, B, r)[:L]


def _unit(shape: tuple[int, ...], r: int, like: Tensor) -> Tensor:
    e = torch.zeros(*shape, r, dtype=like.dtype, device=like.device)
    e[..., 0] = 1
    return e


def interface_vectors(picked: Tensor, summed: Tensor) -> tuple[Tensor, Tensor]:
    """Left vectors ``a`` for ``T`` index chains and right vectors ``b``, from one blocked scan.

    Args:
        picked: ``[P, T, D-1, r, r]``, the slices ``Y_j[i_j]`` of modes ``0 .. D-2`` at the indices.
        summed: ``[P, D-1, r, r]``, the index-summed cores ``M_j`` of modes ``1 .. D-1``.

    Returns:
        ``a: [P, T, D, r]`` (row 0 of ``Y_0[i_0] ... Y_{j-1}[i_{j-1}]``, ``a_0 = e_0``) and
        ``b: [P, D, r]`` (column 0 of ``M_{j+1} ... M_{D-1}``, ``b_{D-1} = e_0``), each up to scale.
        The suffix products ``b`` are prefix products of the reversed transposes ``M^T``.
    """
    P, T, size, r = picked.shape[0], picked.shape[1], picked.shape[2] + 1, picked.shape[-1]
    # chains[j, p * (T + 1) + t]: the T picked chains of problem p, then its reversed transposed M
    chains = torch.cat((picked, summed.flip(1).transpose(-1, -2).unsqueeze(1)), 1).permute(2, 0, 1, 3, 4)
    rows = prefix_rows(_rescaled(chains.reshape(size - 1, P * (T + 1), r, r)))
    rows = rows.view(size - 1, P, T + 1, r)  # [D-1, P, T+1, r]
    left = torch.cat((_unit((1, P, T), r, picked), rows[:, :, :T])).permute(1, 2, 0, 3)  # [P, T, D, r]
    right = torch.cat((rows[:, :, T].flip(0), _unit((1, P), r, picked))).transpose(0, 1)  # [P, D, r]
    return left, right


@dataclass(frozen=True)
class Interfaces:
    """What sampling and the loss both need from one set of cores (computed once per step).

    Attributes:
        summed: ``[P, D-1, r, r]``, the index-summed cores ``M_j`` of modes ``1 .. D-1``.
        right: ``[P, D, r]``, the right vectors ``b_j``.
        weights: ``[P, D, r, n]``, ``w_j[:, i] = Y_j[i] @ b_j``.
    """

    summed: Tensor
    right: Tensor
    weights: Tensor


@torch.no_grad()
def interfaces(cores: Tensor) -> Interfaces:
    """The ``Interfaces`` of ``cores`` (no autograd)."""
    P, size, r = cores.shape[:3]
    summed = cores[:, 1:].sum(-1).transpose(-1, -2)
    if size == 1:
        right = _unit((P, 1), r, cores)
    else:
        right = interface_vectors(cores.new_zeros(P, 0, size - 1, r, r), summed)[1]
    return Interfaces(summed, right, mode_weights(cores, right))


def mode_weights(cores: Tensor, right: Tensor) -> Tensor:
    """``w[p, j, :, i] = Y_j[i] @ b_j``, ``[P, D, r, n]`` (one vector-matrix product per mode)."""
    P, size, r, _, n = cores.shape
    return torch.bmm(right.reshape(P * size, 1, r), cores.reshape(P * size, r, r * n)).view(P, size, r, n)


def picked_slices(cores: Tensor, index: Tensor) -> Tensor:
    """``out[p, t, j] = Y_j[index[p, t, j]]`` of problem ``p``, ``[P, T, D, r, r]``."""
    P, size = cores.shape[:2]
    problem = torch.arange(P, device=cores.device).view(P, 1, 1)
    mode = torch.arange(size, device=cores.device)
    return cores.permute(0, 1, 4, 3, 2)[problem, mode, index]


def _log_p(left: Tensor, weights: Tensor, index: Tensor) -> Tensor:
    """``sum_j log G_j(i_j)``, ``[P, T]``, from ``a: [P, T, D, r]`` and ``w: [P, D, r, n]``."""
    g = (left.unsqueeze(-1) * weights.unsqueeze(1)).sum(-2).abs()  # [P, T, D, n]
    return (g.gather(-1, index.unsqueeze(-1)).squeeze(-1).log() - g.sum(-1).log()).sum(-1)


def log_likelihood(cores: Tensor, index: Tensor) -> Tensor:
    """``log p(index)`` under the PROTES distribution of ``cores``, ``index: [P, T, D] -> [P, T]``.

    Equal to the reference ``protes.protes._likelihood`` (sum over modes of ``log G_j(i_j)``);
    differentiable in ``cores`` by autograd. ``loss_and_grad`` is the fast way to its gradient.
    """
    P, size, r, _, n = cores.shape
    if size == 1:
        g = cores[:, 0, 0, 0].abs().unsqueeze(1)  # [P, 1, n]
        return g.expand(P, index.shape[1], n).gather(-1, index).squeeze(-1).log() - g.sum(-1).log()
    summed = cores[:, 1:].sum(-1).transpose(-1, -2)
    left, right = interface_vectors(picked_slices(cores[:, :-1], index[..., :-1]), summed)
    return _log_p(left, mode_weights(cores, right), index)


class _CachedWeights(torch.autograd.Function):
    """``mode_weights(cores, right)`` given its value; differentiable in ``right`` only."""

    @staticmethod
    def forward(ctx, right: Tensor, cores: Tensor, weights: Tensor) -> Tensor:
        ctx.save_for_backward(cores)
        return weights.clone()

    @staticmethod
    def backward(ctx, d_weights: Tensor) -> tuple[Tensor, None, None]:
        (cores,) = ctx.saved_tensors
        return (cores * d_weights.unsqueeze(2)).sum((3, 4)), None, None


def loss_and_grad(cores: Tensor, index: Tensor, found: Interfaces | None = None) -> tuple[Tensor, Tensor]:
    """The PROTES loss ``sum_p mean_t -log p(index[p, t])`` and its gradient in ``cores``.

    Autograd runs on the small tensors only (picked slices, summed cores, mode weights); the
    gradient in the large ``cores`` is assembled in one pass from theirs:
    ``dY_j[i] = dw_j[:, i] b_j^T + dM_j + sum_t [i == i_tj] dS_tj``.

    Args:
        cores: ``[P, D, r, r, n]``.
        index: ``[P, T, D]``.
        found: ``interfaces(cores)`` if already computed (sampling needs them too).

    Returns:
        ``(loss, grad)``: a scalar and ``[P, D, r, r, n]``.
    """
    P, size, r, _, n = cores.shape
    cores = cores.detach()
    if size == 1:
        leaf = cores.clone().requires_grad_(True)
        loss = -log_likelihood(leaf, index).mean(1).sum()
        return loss.detach(), torch.autograd.grad(loss, leaf)[0]
    found = found if found is not None else interfaces(cores)
    with torch.no_grad():
        picked = picked_slices(cores[:, :-1], index[..., :-1])
    picked.requires_grad_(True)
    summed = found.summed.detach().requires_grad_(True)
    left, right = interface_vectors(picked, summed)
    weights = _CachedWeights.apply(right, cores, found.weights)
    loss = -_log_p(left, weights, index).mean(1).sum()
    d_picked, d_summed, d_weights = torch.autograd.grad(loss, (picked, summed, weights))
    with torch.no_grad():
        d_summed = torch.cat((torch.zeros_like(d_summed[:, :1]), d_summed), 1)  # mode 0 has no M
        grad = torch.addcmul(d_summed.transpose(-1, -2).unsqueeze(-1), right[:, :, :, None, None],
                             d_weights.unsqueeze(2), out=torch.empty_like(cores))  # one pass over the cores
        problem = torch.arange(P, device=cores.device).view(P, 1, 1)
        mode = torch.arange(size - 1, device=cores.device)
        grad[:, :-1].permute(0, 1, 4, 3, 2).index_put_((problem, mode, index[..., :-1]), d_picked, accumulate=True)
    return loss.detach(), grad


MAX_BLOCK_PATHS = 64


def block_size(n: int) -> int:
    """Modes ``sample`` draws together: the largest ``b`` with ``n**b <= 64`` if ``b >= 3``, else 1.

    Blocks only pay off for small mode sizes (the QTT case, ``n = 2``: 6 binary modes per block);
    otherwise modes are drawn one by one. Depends on ``n`` only, never on the batch.
    """
    b = 1
    while n ** (b + 1) <= MAX_BLOCK_PATHS:
        b += 1
    return b if b >= 3 else 1


def random_shape(samples: int, modes: int, n: int) -> tuple[int, ...]:
    """Shape of the uniform numbers ``sample`` needs per problem for ``samples`` draws.

    One number per mode, sample and value (an exponential race) when modes are drawn one by one;
    one per sample and block of modes (inverse CDF) when they are drawn in blocks.
    """
    b = block_size(n)
    return (modes, samples, n) if b == 1 else (samples, -(-modes // b))


@torch.inference_mode()
def sample(cores: Tensor, uniform: Tensor, found: Interfaces | None = None) -> Tensor:
    """Draw ``K`` indices per problem from the PROTES distribution of ``cores``.

    Args:
        cores: ``[P, D, r, r, n]``.
        uniform: ``[P, *random_shape(K, D, n)]`` uniform numbers in ``[0, 1)``.
        found: ``interfaces(cores)`` if already computed.

    Returns:
        ``LongTensor[P, K, D]``, distributed as the reference sampler's draws (modes one after the
        other from ``G_j``). Modes drawn one by one use an exponential race:
        ``i = argmax_i G_j(i) / X_i`` with ``X_i = -log(u_i) ~ Exp(1)``, which is distributed as
        ``G_j`` and needs no normalization. For small ``n`` a block of ``b`` modes is drawn at once
        by inverse CDF over its ``n**b`` value paths, whose probabilities are products of the
        ``G_j`` along the path (one batched step per block instead of one per mode).
    """
    n = cores.shape[-1]
    weights = (found if found is not None else interfaces(cores)).weights  # [P, D, r, n]
    if block_size(n) == 1:
        return _sample_modes(cores, weights, uniform)
    slices = cores.permute(1, 0, 4, 3, 2).contiguous()  # [D, P, n, r, r]: slices[j, p, i] = Y_j[i]
    return _sample_blocks(slices, weights, uniform.to(cores.dtype), block_size(n))


def _normalized(state: Tensor) -> Tensor:
    return state / state.abs().amax(-1, keepdim=True).clamp_min(torch.finfo(state.dtype).tiny)


def _sample_modes(cores: Tensor, weights: Tensor, uniform: Tensor) -> Tensor:
    """One mode after the other by an exponential race: one matrix product and four small ops per
    mode for all samples.

    For mode ``j``, ``steps[j][p] = [Y_j[:, :, i] for all i | w_j]`` (``[r, (r + 1) * n]``), so one
    product with the left vectors ``a_j`` of all samples gives both the next left vector of every
    possible value (``a_j Y_j[i]``) and the scores ``a_j w_j(i)``.
    """
    P, size, r, _, n = cores.shape
    K = uniform.shape[2]
    log_u = uniform.to(cores.dtype).log().transpose(0, 1).unbind(0)  # -X, X ~ Exp(1): D x [P, K, n]
    steps = cores.new_empty(size, P, r, r + 1, n)  # [D, P, r_a, r_b + 1, n], filled in one pass each
    steps[:, :, :, :r].copy_(cores.permute(1, 0, 3, 2, 4))
    steps[:, :, :, r].copy_(weights.transpose(0, 1))
    steps = steps.view(size, P, r, (r + 1) * n).unbind(0)
    state = _unit((P, K), r, cores)  # [P, K, r]
    columns = torch.arange(r, device=cores.device) * n  # where a_j Y_j[i] of value i sits: columns + i
    out = []
    for j in range(size):
        reached = torch.bmm(state, steps[j])  # [P, K, (r + 1) * n] = [a_j Y_j[i] for all i | a_j w_j]
        i = reached[..., r * n:].div_(log_u[j]).abs_().argmax(-1, keepdim=True)  # race: |a_j w_j(i)| / X_i
        out.append(i)
        if j + 1 < size:
            state = reached.gather(-1, i + columns)  # a_{j+1} = a_j Y_j[i_j]
            if j % 8 == 7:
                state = _normalized(state)
    return torch.cat(out, -1)


def _block_tables(slices: Tensor, weights: Tensor, start: int, count: int, b: int) -> dict[str, Tensor]:
    """Per-block tables for ``count`` blocks of ``b`` modes from mode ``start`` (all problems at once).

    ``vectors[m]: [P, r, M]``: for each level ``t < b``, value-path prefix and value ``i``, the vector
    ``prefix_product @ w_{t}[:, i]`` (``M = n + n**2 + ... + n**b``, groups of ``n`` share a prefix);
    ``prefixes``: the products of the first ``b - 1`` slices of each path prefix; ``last``: the slices
    of each block's last mode; ``columns[path, t]``: where level ``t`` of ``path`` sits in ``M``.
    """
    _, P, n, r, _ = slices.shape
    modes = slices[start: start + count * b].transpose(0, 1).reshape(P, count, b, n, r, r)
    wts = weights[:, start: start + count * b].reshape(P, count, b, r, n)
    prefix = torch.eye(r, dtype=slices.dtype, device=slices.device).expand(P, count, 1, r, r)
    vectors = []
    for t in range(b):
        level = prefix @ wts[:, :, t].unsqueeze(2)  # [P, count, n**t, r, n]
        vectors.append(level.transpose(2, 3).reshape(P, count, r, -1))
        if t + 1 < b:
            step = prefix.unsqueeze(3) @ modes[:, :, t].unsqueeze(2)  # [P, c, n**t, n, r, r]
            prefix = _rescaled(step.reshape(P, count, -1, r, r))
    paths = torch.arange(n ** b, device=slices.device)
    starts = [sum(n ** (s + 1) for s in range(t)) for t in range(b)]
    columns = torch.stack([starts[t] + paths // n ** (b - 1 - t) for t in range(b)], -1)
    return dict(
        vectors=torch.cat(vectors, -1).transpose(0, 1).contiguous(),  # [count, P, r, M]
        prefixes=prefix.reshape(-1, r, r),  # row ((p * count + m) * n**(b-1) + prefix)
        last=modes[:, :, b - 1].reshape(-1, r, r),  # row ((p * count + m) * n + i)
        columns=columns.reshape(-1),
    )


def _sample_blocks(slices: Tensor, weights: Tensor, uniform: Tensor, b: int) -> Tensor:
    """Blocks of ``b`` modes (the last block may be shorter), one inverse-CDF draw per block."""
    size, P, n, r, _ = slices.shape
    K = uniform.shape[1]
    full, rest = divmod(size, b)
    groups = [(0, full, b)] if full else []
    if rest:
        groups.append((full * b, 1, rest))
    draws = uniform.split(1, -1)
    problem = torch.arange(P, device=slices.device).view(P, 1, 1)
    state = _unit((P * K, 1), r, slices)
    paths_out, block = [], 0
    for start, count, length in groups:
        tables = _block_tables(slices, weights, start, count, length)
        groups_m = sum(n ** (t + 1) for t in range(length)) // n
        paths = n ** length
        out = []
        for m in range(count):
            z = torch.bmm(state.view(P, K, r), tables["vectors"][m]).abs_().view(P, K, groups_m, n)
            cond = (z / z.sum(-1, keepdim=True)).view(P, K, -1)
            cdf = cond.index_select(-1, tables["columns"]).view(P, K, paths, length).prod(-1).cumsum_(-1)
            path = torch.searchsorted(cdf, cdf[..., -1:] * draws[block], right=True).clamp_(max=paths - 1)
            out.append(path)
            block += 1
            if start + (m + 1) * length < size:
                base = problem * count + m
                state = torch.bmm(state, tables["prefixes"].index_select(
                    0, (base * (paths // n) + path // n).view(-1)))
                state = torch.bmm(state, tables["last"].index_select(0, (base * n + path % n).view(-1)))
                state = _normalized(state)
        paths_all = torch.cat(out, -1)  # [P, K, count]
        digits = n ** torch.arange(length - 1, -1, -1, device=slices.device)
        paths_out.append(((paths_all.unsqueeze(-1) // digits) % n).flatten(-2))
    return torch.cat(paths_out, -1)


def initial_cores(uniform: Tensor) -> Tensor:
    """Cores from uniform numbers ``[P, D, r, r, n]`` (the reference draws every used entry ~ U(0, 1)).

    Row 0 of the first core and column 0 of the last core are kept, the rest of them is zeroed.
    """
    cores = uniform.clone()
    cores[:, 0, :, 1:] = 0
    cores[:, -1, 1:] = 0
    return cores


class Adam:
    """``optax.adam(lr)`` (same constants and update) on one tensor, updated in place.

    Runs ``torch._fused_adam_`` (one pass over the tensor) on CPU and CUDA, the same arithmetic
    in a few in-place ops elsewhere; ``torch.optim.Adam`` would add its per-step bookkeeping.

    Args:
        param: the tensor to update.
        lr: learning rate.

    Example:
        >>> x = torch.zeros(3)
        >>> Adam(x, lr=0.1).step(x, torch.ones(3))
        >>> x
        tensor([-0.1000, -0.1000, -0.1000])
    """

    def __init__(self, param: Tensor, lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
        self.lr, self.b1, self.b2, self.eps = lr, b1, b2, eps
        self.mu = torch.zeros_like(param)
        self.nu = torch.zeros_like(param)
        self.count = 0
        self._fused = param.device.type in ("cpu", "cuda") and hasattr(torch, "_fused_adam_")
        self._steps = torch.zeros((), dtype=torch.float32, device=param.device)

    @torch.no_grad()
    def step(self, param: Tensor, grad: Tensor) -> None:
        """``param -= lr * mu_hat / (sqrt(nu_hat) + eps)``; ``grad`` may be overwritten."""
        self.count += 1
        grad = grad.contiguous()  # the fused kernel walks both tensors in memory order
        if self._fused:
            self._steps.add_(1)
            torch._fused_adam_([param], [grad], [self.mu], [self.nu], [], [self._steps], lr=self.lr,
                               beta1=self.b1, beta2=self.b2, weight_decay=0.0, eps=self.eps,
                               amsgrad=False, maximize=False)
            return
        self.mu.lerp_(grad, 1 - self.b1)
        self.nu.mul_(self.b2).addcmul_(grad, grad, value=1 - self.b2)
        denom = torch.sqrt(self.nu, out=grad).div_((1 - self.b2 ** self.count) ** 0.5).add_(self.eps)
        param.addcdiv_(self.mu, denom, value=-self.lr / (1 - self.b1 ** self.count))
