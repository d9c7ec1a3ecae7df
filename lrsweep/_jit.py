"""The compiled elementwise kernels of the lockstep step (numba), imported by `lrsweep.kernels`.

Every kernel performs exactly the float operations, in exactly the order, of the NumPy code it
replaces (`lrsweep.model`, `lrsweep.optimizers`): IEEE arithmetic (+, -, *, /, sqrt, max) is
correctly rounded, numba contracts nothing without ``fastmath``, and every constant arrives
already rounded to the arrays' dtype, as NumPy rounds a Python float next to a float32 array.
The transcendental functions (exp, log, tanh) are not here: the callers keep NumPy's, whose
bits a compiled libm would not reproduce. Sums replicate NumPy's pairwise summation
(`pairwise_sum`). So a history is bit-identical whichever path trained it, which the tests
check on every optimizer, schedule, activation and loss.

Do not import this module directly: `lrsweep.kernels.load` imports it once numba's cache
directory is set. Each kernel is generic in the dtype (float32 or float64); numba compiles one
specialization per argument type on first use, kept in the on-disk cache.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

Array = Any  # numba arrays; annotations are for readers and mypy only

_jit = njit(cache=True, nogil=True, error_model="numpy")  # x / 0 is inf or NaN, as in NumPy

# --------------------------------------------------------------------------------------------
# NumPy's semantics, element by element


@_jit
def _relu(v: Any, zero: Any) -> Any:
    """np.maximum(v, 0) as NumPy's vector loop computes it: NaN stays NaN, -0.0 gives +0.0."""
    if v > zero:
        return v
    if v != v:
        return v
    return zero


@_jit
def _maximum(a: Any, b: Any) -> Any:
    """np.maximum(a, b): a NaN on either side is the result."""
    if a != a:
        return a
    if b != b:
        return b
    return b if b > a else a


@_jit
def _block_sum(a: Array, lo: int, n: int, zero: Any) -> Any:
    """NumPy's pairwise sum of at most 128 values: a plain loop from ``zero`` below 8 values,
    else eight running sums, combined as a tree, then the rest one by one."""
    if n < 8:
        res = zero
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    stop = n - n % 8
    while i < stop:
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@_jit
def pairwise_sum(a: Array, lo: int, n: int, zero: Any) -> Any:
    """NumPy's pairwise sum of ``a[lo:lo + n]`` (``np.add.reduce`` along a contiguous axis):
    blocks of at most 128 values (`_block_sum`); a longer run is split in two halves (the first
    a multiple of 8) whose sums are added. Written with an explicit stack: a recursive kernel
    crashes when numba loads it from its cache."""
    if n <= 128:
        return _block_sum(a, lo, n, zero)
    los = np.empty(64, np.int64)
    ns = np.empty(64, np.int64)
    phases = np.zeros(64, np.int64)
    values = np.empty(64, a.dtype)
    los[0], ns[0] = lo, n
    depth, count = 1, 0
    while depth > 0:
        top = depth - 1
        start, size = los[top], ns[top]
        if size <= 128:
            values[count] = _block_sum(a, start, size, zero)
            count += 1
            depth -= 1
            continue
        half = size // 2
        half -= half % 8
        if phases[top] == 0:  # the first half
            phases[top] = 1
            los[depth], ns[depth], phases[depth] = start, half, 0
            depth += 1
        elif phases[top] == 1:  # the second half
            phases[top] = 2
            los[depth], ns[depth], phases[depth] = start + half, size - half, 0
            depth += 1
        else:  # both done: their sum
            values[count - 2] = values[count - 2] + values[count - 1]
            count -= 1
            depth -= 1
    return values[0]


# --------------------------------------------------------------------------------------------
# Activations: forward and backward


@_jit
def bias_relu(Z: Array, bias: Array, A: Array) -> None:
    """A[..., :w] = max(Z + bias, 0): layer 0's bias row added, then the ReLU, written beside
    the column of ones of the contiguous buffer ``A`` (K, n, w + 1) (`model._forward`)."""
    K, n, w = Z.shape
    zero = np.zeros(1, Z.dtype)[0]
    row = np.empty(w, Z.dtype)  # the bias, contiguous: the loop below then vectorizes
    for k in range(K):
        for j in range(w):
            row[j] = bias[k, j]
        for i in range(n):
            z = Z[k, i]
            a = A[k, i]
            for j in range(w):
                a[j] = _relu(z[j] + row[j], zero)


@_jit
def bias_leaky_relu(Z: Array, bias: Array, A: Array, slope: Any) -> None:
    """A[..., :w] = max(z, slope z) with z = Z + bias (`model._leaky_relu`)."""
    K, n, w = Z.shape
    row = np.empty(w, Z.dtype)
    for k in range(K):
        for j in range(w):
            row[j] = bias[k, j]
        for i in range(n):
            z = Z[k, i]
            a = A[k, i]
            for j in range(w):
                v = z[j] + row[j]
                a[j] = _maximum(v, v * slope)


@_jit
def relu(A: Array) -> None:
    """A = max(A, 0) in place (a contiguous buffer; its column of ones stays ones)."""
    a = A.reshape(-1)
    zero = np.zeros(1, a.dtype)[0]
    for i in range(a.size):
        a[i] = _relu(a[i], zero)


@_jit
def leaky_relu(A: Array, slope: Any) -> None:
    """A = max(A, slope A) in place."""
    a = A.reshape(-1)
    for i in range(a.size):
        v = a[i]
        a[i] = _maximum(v, v * slope)


@_jit
def relu_backward(D: Array, A: Array) -> None:
    """D *= (A > 0), as a multiply by 1.0 or 0.0 (inf x 0 = NaN, as in NumPy)."""
    d = D.reshape(-1)
    a = A.reshape(-1)
    one = np.ones(1, d.dtype)[0]
    zero = one - one
    for i in range(d.size):
        d[i] = d[i] * (one if a[i] > zero else zero)


@_jit
def leaky_relu_backward(D: Array, A: Array, slope: Any) -> None:
    """D *= 1 where A > 0 or NaN, else slope (`model._leaky_relu_backward`)."""
    d = D.reshape(-1)
    a = A.reshape(-1)
    one = np.ones(1, d.dtype)[0]
    zero = one - one
    for i in range(d.size):
        d[i] = d[i] * (slope if a[i] <= zero else one)


@_jit
def tanh_backward(D: Array, A: Array) -> None:
    """D *= 1 - A^2 over the hidden columns of the (K, n, w + 1) buffers (not the last)."""
    K, n, w1 = D.shape
    one = np.ones(1, D.dtype)[0]
    for k in range(K):
        for i in range(n):
            d = D[k, i]
            a = A[k, i]
            for j in range(w1 - 1):
                d[j] = d[j] * (one - a[j] * a[j])


@_jit
def sigmoid_backward(D: Array, A: Array) -> None:
    """D *= (1 - A) A over the hidden columns of the (K, n, w + 1) buffers."""
    K, n, w1 = D.shape
    one = np.ones(1, D.dtype)[0]
    for k in range(K):
        for i in range(n):
            d = D[k, i]
            a = A[k, i]
            for j in range(w1 - 1):
                d[j] = d[j] * ((one - a[j]) * a[j])


@_jit
def transpose_copy(dst: Array, src: Array) -> None:
    """dst[k] = src[k].T: the weight blocks transposed for ``delta @ W^T``."""
    K, rows, cols = src.shape
    for k in range(K):
        s = src[k]
        d = dst[k]
        for j in range(cols):  # each row of dst written in order
            for i in range(rows):
                d[j, i] = s[i, j]


# --------------------------------------------------------------------------------------------
# Losses: the parts around NumPy's exp and log


@_jit
def cross_entropy_shift(out: Array, labels: Array, picked: Array) -> None:
    """Subtract each row's maximum over the classes in place; ``picked`` = the shifted logit
    of the label. ``labels`` is (1, n) when shared, (K, n) per member."""
    K, n, C = out.shape
    shared = labels.shape[0] == 1
    for k in range(K):
        row = 0 if shared else k
        for i in range(n):
            m = out[k, i, 0]
            for c in range(1, C):
                m = _maximum(m, out[k, i, c])
            for c in range(C):
                out[k, i, c] = out[k, i, c] - m
            picked[k, i] = out[k, i, labels[row, i]]


@_jit
def cross_entropy_finish(
    out: Array,
    total: Array,
    per_sample: Array,
    picked: Array,
    labels: Array,
    losses: Array,
    inv_n: Any,
    need_grad: bool,
) -> None:
    """After ``out = exp(shifted)``, ``total`` its sum over classes and ``per_sample =
    log(total)``: the mean loss per member, and with ``need_grad`` the gradient
    ``(softmax - onehot) / n`` in place of ``out``."""
    K, n, C = out.shape
    shared = labels.shape[0] == 1
    one = np.ones(1, out.dtype)[0]
    for k in range(K):
        for i in range(n):
            per_sample[k, i] = per_sample[k, i] - picked[k, i]
        losses[k] = pairwise_sum(per_sample[k], 0, n, one - one) * inv_n
    if not need_grad:
        return
    for k in range(K):
        row = 0 if shared else k
        for i in range(n):
            t = total[k, i]
            label = labels[row, i]
            for c in range(C):
                v = out[k, i, c] / t
                if c == label:
                    v = v - one
                out[k, i, c] = v * inv_n


@_jit
def mse(out: Array, target: Array, losses: Array, scale: Any, need_grad: bool) -> None:
    """``out -= target`` in place; the mean of its squares per member; with ``need_grad`` the
    gradient ``out *= scale`` (2 / (n n_out)). ``target`` is (1, n, n_out) when shared."""
    K, n, m = out.shape
    shared = target.shape[0] == 1
    count = np.full(1, n * m, out.dtype)[0]
    squares = np.empty(n * m, out.dtype)
    for k in range(K):
        row = 0 if shared else k
        for i in range(n):
            for j in range(m):
                d = out[k, i, j] - target[row, i, j]
                out[k, i, j] = d
                squares[i * m + j] = d * d
        losses[k] = pairwise_sum(squares, 0, n * m, count - count) / count
        if need_grad:
            for i in range(n):
                for j in range(m):
                    out[k, i, j] = out[k, i, j] * scale


# --------------------------------------------------------------------------------------------
# Optimizer updates over (K, P) arrays: per-member coefficients arrive as (K,) vectors


@_jit
def sgd(p: Array, g: Array, lr: Array, weight_decay: Any) -> None:
    """g += wd p (if wd != 0); p -= lr g."""
    K, P = p.shape
    decay = weight_decay != 0
    for k in range(K):
        step = lr[k]
        for j in range(P):
            gj = g[k, j]
            if decay:
                gj = gj + weight_decay * p[k, j]
            p[k, j] = p[k, j] - gj * step


@_jit
def sgd_momentum(
    p: Array,
    g: Array,
    b: Array,
    lr: Array,
    mu: Array,
    weight_decay: Any,
    damp: Any,
    dampened: bool,
    first: bool,
    nesterov: bool,
) -> None:
    """SGD with momentum as `lrsweep.optimizers.SGD` computes it (PyTorch's convention)."""
    K, P = p.shape
    decay = weight_decay != 0
    for k in range(K):
        step = lr[k]
        m = mu[k]
        for j in range(P):
            gj = g[k, j]
            if decay:
                gj = gj + weight_decay * p[k, j]
            if first:
                bj = gj
            elif dampened:
                bj = b[k, j] * m + damp * gj
            else:
                bj = b[k, j] * m + gj
            b[k, j] = bj
            if nesterov:
                gj = gj + m * bj
                p[k, j] = p[k, j] - gj * step
            else:
                p[k, j] = p[k, j] - bj * step


@_jit
def adagrad(
    p: Array,
    g: Array,
    s: Array,
    lr: Array,
    weight_decay: Any,
    eps: Any,
    decay_factor: Any,
    lr_decay: bool,
) -> None:
    """Adagrad as `lrsweep.optimizers.Adagrad` computes it."""
    K, P = p.shape
    decay = weight_decay != 0
    for k in range(K):
        step = lr[k]
        for j in range(P):
            gj = g[k, j]
            if decay:
                gj = gj + weight_decay * p[k, j]
            sj = s[k, j] + gj * gj
            s[k, j] = sj
            gj = gj / (np.sqrt(sj) + eps)
            gj = gj * step
            if lr_decay:
                gj = gj * decay_factor
            p[k, j] = p[k, j] - gj


@_jit
def rmsprop(
    p: Array,
    g: Array,
    v: Array,
    a: Array,
    b: Array,
    lr: Array,
    mu: Array,
    alpha: Any,
    one_minus_alpha: Any,
    eps: Any,
    weight_decay: Any,
    centered: bool,
    momentum: bool,
) -> None:
    """RMSprop as `lrsweep.optimizers.RMSprop` computes it (``a``, ``b`` unused unless
    centered, with momentum)."""
    K, P = p.shape
    decay = weight_decay != 0
    for k in range(K):
        step = lr[k]
        m = mu[k]
        for j in range(P):
            gj = g[k, j]
            if decay:
                gj = gj + weight_decay * p[k, j]
            vj = v[k, j] * alpha + (gj * gj) * one_minus_alpha
            v[k, j] = vj
            if centered:
                aj = a[k, j] * alpha + one_minus_alpha * gj
                a[k, j] = aj
                avg = np.sqrt(vj - aj * aj)
            else:
                avg = np.sqrt(vj)
            gj = gj / (avg + eps)
            if momentum:
                bj = b[k, j] * m + gj
                b[k, j] = bj
                p[k, j] = p[k, j] - bj * step
            else:
                p[k, j] = p[k, j] - gj * step


@_jit
def adam(
    p: Array,
    g: Array,
    m: Array,
    v: Array,
    vmax: Array,
    beta1: Array,
    one_minus_beta1: Array,
    step: Array,
    shrink: Array,
    beta2: Any,
    one_minus_beta2: Any,
    correction2: Any,
    eps: Any,
    weight_decay: Any,
    decoupled: bool,
    amsgrad: bool,
) -> None:
    """Adam / AdamW as `lrsweep.optimizers.Adam` computes it. Per member: ``beta1``,
    ``1 - beta1``, ``step = lr / (1 - beta1^t)`` and ``shrink = 1 - lr wd`` (AdamW)."""
    K, P = p.shape
    decay = weight_decay != 0
    for k in range(K):
        b1 = beta1[k]
        c1 = one_minus_beta1[k]
        lr_k = step[k]
        keep = shrink[k]
        for j in range(P):
            gj = g[k, j]
            if decay:
                if decoupled:
                    p[k, j] = p[k, j] * keep
                else:
                    gj = gj + weight_decay * p[k, j]
            mj = m[k, j] * b1 + c1 * gj
            m[k, j] = mj
            vj = v[k, j] * beta2 + (gj * gj) * one_minus_beta2
            v[k, j] = vj
            if amsgrad:
                vj = _maximum(vmax[k, j], vj)
                vmax[k, j] = vj
            denom = np.sqrt(vj) * correction2 + eps
            p[k, j] = p[k, j] - (mj / denom) * lr_k
