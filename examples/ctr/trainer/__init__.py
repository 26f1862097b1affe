"""A click-through-rate trainer on daily partitions of Criteo-like click logs.

``trainer.data`` writes synthetic days to a store; ``trainer.train`` trains on the seven
days before the run date and defines ``evaluate(model)`` for the promotion gate.
"""
