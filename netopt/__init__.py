"""netopt: distribution network design for cell and gene therapies."""

from __future__ import annotations

__version__ = "0.1.0"
