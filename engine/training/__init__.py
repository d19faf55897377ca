"""Training: run configs, the training job, callbacks, stop/pause control."""

from engine.training.config import AugmentConfig, DataConfig, LayerSpec, ModelRecipe, RunConfig, TrainConfig
from engine.training.control import RunControl

__all__ = ["AugmentConfig", "DataConfig", "LayerSpec", "ModelRecipe", "RunConfig", "RunControl", "TrainConfig"]
