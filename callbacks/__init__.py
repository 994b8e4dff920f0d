"""Lightning callbacks of mango-pl, usable in any training."""

from callbacks.mei_search import MEISearchCallback

__all__ = ["MEISearchCallback"]
