"""Reference solutions of the course's practicals.

Each module is the full-marks answer of one practical, with exactly the interface students
write. Solution blocks are fenced by ``### BEGIN SOLUTION`` / ``### END SOLUTION``: the
student templates are generated from these files by removing the fenced code
(``grade template --regenerate``), so reference and templates never drift.
"""
