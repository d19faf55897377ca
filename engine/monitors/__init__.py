"""Watchers that run inside a training run: small data, overfitting (and, later, forgetting).

They sit below `engine.training` (the job calls them) and above `engine.data`/`engine.models`.
Post-hoc analysis that runs whole trainings (comparisons, the advisor) lives in
`engine.analysis`, above `engine.training`.
"""
