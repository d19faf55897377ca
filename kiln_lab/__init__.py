"""Kiln's one import package (issue 19.8): ``kiln_lab.engine``, ``kiln_lab.gui``, ``kiln_lab.main``.

In the repository, engine/, gui/, resources/ and main.py stay at the root (the layout is part of
the design); this file, which only the repository has, points the package at that root, so a bare
checkout (``python main.py``, ``PYTHONPATH=.``, pytest) imports them without an install. A wheel
holds them inside kiln_lab/ itself (setup.py maps the package to the repository root) and has no
such file.
"""

import os

__path__ = [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]
