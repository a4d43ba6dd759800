#!/usr/bin/python3
"""promcheck: reads a Prometheus text exposition (version 0.0.4) on stdin,
checks it strictly and prints its samples as JSON, for
tests/integration/metrics.sh.

    promcheck.py < exposition > samples.json

The exposition must parse with python3-prometheus-client's text parser,
and beyond what that parser enforces: every family has one HELP and one
TYPE line before its samples, and its samples are contiguous; names are
strata_* (or process_start_time_seconds); counters end in _total and
nothing else does; a series appears once; histograms have le buckets in
rising order, cumulative counts and a +Inf bucket equal to _count; unit
suffixes are base units (_seconds, _bytes, never _ms or _kib...).
Prints {"name{label=value,...}": value} with labels sorted.  Exit 1 with
the reason on the first violation."""
import json
import math
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
BAD_UNITS = ("_ms", "_milliseconds", "_kib", "_kb", "_mb", "_mib", "_us", "_ns", "_minutes")


def die(msg):
    print("promcheck: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    text = sys.stdin.read()
    if not text.endswith("\n"):
        die("the exposition does not end with a newline")
    # The raw lines: HELP and TYPE once each, before the family's samples,
    # each family's samples together.
    declared, typed, seen_families, current = {}, {}, set(), None
    for n, line in enumerate(text.splitlines(), 1):
        if not line:
            die("line %d is empty" % n)
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            if len(parts) < 4:
                die("line %d: %r" % (n, line))
            kind, fam = parts[1], parts[2]
            table = declared if kind == "HELP" else typed
            if fam in table:
                die("%s of %s twice (line %d)" % (kind, fam, n))
            if fam in seen_families and fam != current:
                die("family %s declared again at line %d" % (fam, n))
            table[fam] = parts[3]
            current = fam
            seen_families.add(fam)
            continue
        if line.startswith("#"):
            continue
        name = re.split(r"[{ ]", line, 1)[0]
        fam = name
        for suffix in ("_bucket", "_sum", "_count"):
            if typed.get(name[: -len(suffix)]) == "histogram" and name.endswith(suffix):
                fam = name[: -len(suffix)]
        if fam != current:
            die("sample %s at line %d is not under its family's HELP/TYPE" % (name, n))
    for fam in seen_families:
        if fam not in declared or fam not in typed:
            die("family %s lacks HELP or TYPE" % fam)
        if not NAME.match(fam) or not (fam.startswith("strata_") or fam == "process_start_time_seconds"):
            die("family name %s" % fam)
        if (typed[fam] == "counter") != fam.endswith("_total"):
            die("%s is a %s: counters and only counters end in _total" % (fam, typed[fam]))
        if any(fam.endswith(u) or (u + "_") in fam for u in BAD_UNITS):
            die("%s is not in base units" % fam)
        if typed[fam] not in ("counter", "gauge", "histogram"):
            die("%s has type %s" % (fam, typed[fam]))
    samples = {}
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser's own complaint
        die("prometheus_client cannot parse it: %s" % e)
    for f in families:
        buckets = {}
        for s in f.samples:
            if math.isnan(s.value):
                die("%s is NaN" % s.name)
            labels = dict(s.labels)
            key = s.name + "{" + ",".join("%s=%s" % kv for kv in sorted(labels.items())) + "}"
            if key in samples:
                die("series %s twice" % key)
            samples[key] = s.value
            if f.type == "counter" and s.value < 0:
                die("counter %s is negative" % key)
            if s.name.endswith("_bucket"):
                le = labels.pop("le")
                buckets.setdefault(tuple(sorted(labels.items())), []).append((le, s.value))
        for labels, bs in buckets.items():
            bounds = [float(le) for le, _ in bs]
            if bounds != sorted(bounds) or bs[-1][0] != "+Inf":
                die("%s%s: buckets out of order" % (f.name, labels))
            counts = [v for _, v in bs]
            if counts != sorted(counts):
                die("%s%s: buckets not cumulative" % (f.name, labels))
            lk = ",".join("%s=%s" % kv for kv in labels)
            if samples.get(f.name + "_count{" + lk + "}") != counts[-1]:
                die("%s%s: +Inf bucket is not _count" % (f.name, labels))
    json.dump(samples, sys.stdout, sort_keys=True)
    print()


main()
