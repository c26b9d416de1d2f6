"""Portfolio analytics for managers: what the stored scores say about the key-account portfolio. Reads only.

    metrics    the pure metrics: DataFrames in, DataFrames out (pandas and numpy only: no ORM, settings or cache)
    loading    the filters, the ONE query that loads the portfolio frame, and the small lookups
    dashboard  the portfolio dashboard (assembled and cached) and the capacity page
    whatif     the scoring-model editor's what-if preview

Import each name from the module that defines it; this package re-exports nothing, so importing the pure
metrics never drags in Django.
"""
