"""Recommendations: candidate generators over people's interactions with items, and their
offline evaluation on real data (:mod:`.evaluation`).

Generators share one shape (:class:`~intentflow.recommend.base.Generator`): fitted on the
interactions before a cutoff, they answer a person's history with scored items.
"""
