"""The artifacts layer: downloads (retries, resume, checksums, deadlines), mirrors, the
content-addressed object store, safe archive extraction, rclone remotes, detection of
installed software, venvs and Python libraries, and the package ``download`` blocks.

It may import ``ckx.core`` only.
"""
