"""Detection hook for gcc.

``gcc --version`` banners differ by vendor ("gcc (Debian 12.2.0-14) 12.2.0",
"gcc (GCC) 4.8.5 20150623 (Red Hat 4.8.5-44)") and on macOS ``gcc`` is Apple clang. So: reject
clang, then ask the compiler (``-dumpfullversion -dumpversion`` prints the full version on
gcc >= 7 and the short one on older gcc), and fall back to the banner.
"""

import re

_BANNER = re.compile(r"(?m)^\S*gcc\S*\s+\([^)]*\)\s+(\d+(?:\.\d+)+)")
_PLAIN = re.compile(r"^\d+(?:\.\d+)*$")


def determine_version(i):
    output = i["output"]
    if "clang" in output.lower():
        return None  # a clang driver installed under the name gcc is not gcc
    lines = i["run"](["-dumpfullversion", "-dumpversion"]).strip().splitlines()
    dumped = lines[0].strip() if lines and _PLAIN.match(lines[0].strip()) else None
    if dumped and "." in dumped:
        return dumped
    # A bare major ("12") is what -dumpversion gives on some builds: the banner is better.
    match = _BANNER.search(output)
    return match.group(1) if match else dumped
