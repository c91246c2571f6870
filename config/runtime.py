"""A step every long-lived process takes once it has started."""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Take the objects start-up made (modules, classes, models, settings,
    URL patterns: about 100,000) out of the garbage collector's sight.

    A full collection walks every tracked object: about 50 ms in a router
    process, a pause for whatever decision or request it lands in, and it
    comes again and again although start-up objects live as long as the
    process. Frozen, they are skipped (the collection takes microseconds);
    objects made later are collected as before. Garbage start-up left is
    collected first, so it is not kept for good."""
    gc.collect()
    gc.freeze()
