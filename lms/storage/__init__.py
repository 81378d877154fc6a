"""File storage shared by every area: metadata in ``stored_files``, bytes in a pluggable backend."""
