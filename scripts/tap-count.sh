#!/bin/bash
# Count a TAP stream on stdin: prints "PASS FAIL SKIP".
# Only top-level results count (kselftest nests its own "# " comments).
# A plan "1..N" with fewer than N results counts the missing as failures:
# the program died before reporting them.
set -euo pipefail

awk '
	{ sub(/\r$/, "") }
	/^1\.\.[0-9]+/ { plan = substr($1, 4) + 0; next }
	/^not ok( |$)/ { fail++; next }
	/^ok( |$)/ {
		if (tolower($0) ~ /# skip/)
			skip++
		else
			pass++
	}
	END {
		missing = plan - (pass + fail + skip)
		if (missing > 0)
			fail += missing
		printf "%d %d %d\n", pass, fail, skip
	}
'
