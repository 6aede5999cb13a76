"""One codec per wire dialect, translating to and from the one internal model (`models.py`).

Each module converts requests, stream chunks, tool calls, formats, usage and errors in both
directions; `api/` (the faces clients call) and `backends/` (the upstreams Roundhouse calls)
both use them, so each translation exists once.
"""
