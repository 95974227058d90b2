"""The built-in pipeline step kinds: ``score``, ``mix``, ``generate``, ``train`` and ``eval``.

They are written exactly as a third party would write a step kind: through ``cookbook`` and
``cookbook.engine`` only, registered through the ``register_steps`` hook.
"""

from cookbook import hookimpl
from cookbook_plugins.steps import evaluate, generate, mix, score, train


@hookimpl
def register_steps(register):
    register(score.score)
    register(mix.mix)
    register(generate.generate)
    register(train.train)
    register(evaluate.evaluate)
