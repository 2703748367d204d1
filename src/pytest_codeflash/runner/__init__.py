"""The isolated runner.

Modules named ``child``, ``bench``, ``overlay``, ``compare``, ``determinism``, ``capture`` and
``timing`` run inside the runner's subprocess: they import only the standard library (plus
the user's code), never pydantic or libcst, because the child is started many times.
``sandbox`` is the parent side: it copies the project, scrubs the environment, starts the
child with its limits and reads its results.
"""
