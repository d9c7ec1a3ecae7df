"""The optimizers by name: what a spec may name, and what readers of results need to know
of each without loading the update rules.

The update rules live in `lrsweep.optimizers` (its ``OPTIMIZERS`` registry has exactly these
keys, in this order; each class reads its facts from here). The spec validates names against
this table, and the analysis reads the default LRs from it, so neither imports the numerics.
"""

from __future__ import annotations

from typing import NamedTuple


class Method(NamedTuple):
    """What is known of an optimizer before it runs."""

    default_lr: float  # the reference implementation's default LR (torch.optim's, the paper's)
    needs_lr: bool = True  # False: it takes no LR at all (cocob); every LR is the same run


METHODS: dict[str, Method] = {
    "sgd": Method(1e-3),
    "adagrad": Method(1e-2),
    "rmsprop": Method(1e-2),
    "adam": Method(1e-3),
    "adamw": Method(1e-3),
    "sgd_hd": Method(1e-3),  # *_hd: hypergradient descent (Baydin et al. 2018)
    "sgdn_hd": Method(1e-3),
    "adam_hd": Method(1e-3),
    "prodigy": Method(1.0),  # prodigy .. cocob: learning-rate-free methods
    "dadapt_sgd": Method(1.0),
    "dadapt_adam": Method(1.0),
    "sgd_schedulefree": Method(1.0),
    "adamw_schedulefree": Method(0.0025),
    "dog": Method(1.0),
    "cocob": Method(1.0, needs_lr=False),  # its default LR is unused: any LR, the same run
}
