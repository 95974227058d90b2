"""The ``train`` step: fine-tune the pipeline's model on a dataset with a registered trainer."""

from __future__ import annotations

from typing import Annotated, Any

import cookbook.engine as engine
from cookbook import Artifact, Input, Model, ModelInfo, Param, StepContext, StepProblem, step_kind
from cookbook_plugins.steps.common import device_problems, jsonable, needs_model


def _check(params: dict, pipeline: Any, inputs: dict) -> list[StepProblem]:
    return needs_model(pipeline, "training") + device_problems(params)


def _card(name: str, outputs: dict, params: dict, pipeline: Any) -> str:
    model = outputs["model"]
    metrics = model.metrics
    losses = metrics.get("loss") or []
    title = "## Training" if name == "train" else f"## Training: {name}"
    if not losses:
        return f"{title}\n\nTrainer `{model.trainer}`."
    speed = metrics.get("tokens_per_second", 0) or 0
    return (
        f"{title}\n\nTrainer `{model.trainer}`, {metrics.get('step', '?')} steps, "
        f"final loss {losses[-1]:.4f}\n({speed:.0f} tokens/s)."
    )


@step_kind(
    inputs={"data": Input("dataset", description="The samples to train on.")},
    outputs={"model": "model"},
    uses=("model", "seed"),
    component=("trainer", "trainers"),
    check=_check,
    card=_card,
)
def train(
    ctx: StepContext,
    *,
    trainer: Annotated[str, Param("The trainer: lora, or a plugin's.")] = "lora",
    **trainer_params: Any,
) -> dict[str, Artifact]:
    """The pipeline's model fine-tuned on the input data; an interrupted run resumes."""
    folder = ctx.folder / "model"
    data = ctx.inputs["data"]
    metrics = engine.train_model(
        trainer,
        data.file,
        ctx.pipeline.model,
        folder,
        trainer_params,
        seed=ctx.pipeline.seed,
        resume="auto",
    )
    info = ModelInfo.load(folder)
    whole = info is not None and not info.adapter  # a whole model, not an adapter on the base
    return {
        "model": Model(
            base=str(folder) if whole else ctx.pipeline.model,
            adapter=None if whole else folder,
            chat_template=info.chat_template if info else None,
            trainer=trainer,
            metrics=jsonable(metrics),
        )
    }
