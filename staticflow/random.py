"""sf.random: TF1's tf.random names for the random ops and the candidate samplers."""

from staticflow.ops.candidate_sampling_ops import (  # noqa: F401
    log_uniform_candidate_sampler,
    uniform_candidate_sampler,
)
from staticflow.ops.random_ops import (  # noqa: F401
    random_normal as normal,
)
from staticflow.ops.random_ops import (  # noqa: F401
    random_uniform as uniform,
)
from staticflow.ops.random_ops import (  # noqa: F401
    set_random_seed,
    truncated_normal,
)
