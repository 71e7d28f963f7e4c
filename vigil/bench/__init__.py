"""``vigil bench``: Vigil measured against the design it replaces, in the same run."""
