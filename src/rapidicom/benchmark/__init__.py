"""Side-by-side benchmarks of rapidicom and the reference libraries.

``rapidicom bench`` (``rapidicom.benchmark.command``) times rapidicom and
every installed reference -- pydicom 3 with each decoding plugin,
python-gdcm, dicomsdl -- stage by stage on the same files, checks each
result against rapidicom's before it counts, and reports medians, MB/s and
ratios as a table, JSON and a PNG chart.  The developer benchmarks in
``bench/`` use the same workloads and checks.

Modules:

- ``stages``: the stages and which files and libraries each takes
- ``adapters``: one module per library with its workloads (``with_*.py``)
- ``values``, ``arrays``: normalising and comparing values and pixel arrays
- ``isolate``: running jobs in a child process that may crash
- ``worker``: one library's timed and checked run on one file
- ``runner``: the whole run, library by library
- ``report``, ``chart``: the summary, table, JSON and PNG
- ``corpus``: the default files (pydicom's and pydicom-data's)

.. versionadded:: 0.2.0
"""
