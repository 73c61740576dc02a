"""The pictures of a run: matplotlib Figures drawn from a RunSummary and its trial records.

Every function returns a new ``Figure`` (no pyplot, so no global state between calls or
threads) and draws only what the summary and the records say; ``drawing.save_png`` is the only
I/O. Each drawn element carries a ``gid`` (``"row:local:measured"``, ``"trial:<id>:train"``...)
so tests can check a picture's data on the Figure instead of its pixels.
"""
