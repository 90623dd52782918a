"""The DMDE's domain, as data: the model file's classes, the settings, the reference data,
the synthetic population's spec, the codes and their vocabularies, and the calendar of a
score month.

Pure Python and pydantic: nothing here reads a file or starts Spark. `transforms/` and
`expectations/` build on it; `jobs/lib/config.py` loads the files into it.
"""
