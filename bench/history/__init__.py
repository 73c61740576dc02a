"""A run history across commits: entries, each gated figure's series and its steps, the page."""
