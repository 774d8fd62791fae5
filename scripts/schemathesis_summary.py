"""Per-operation summary of a Schemathesis run, from its own reports (scripts/schemathesis.sh).

    python schemathesis_summary.py SPEC NDJSON JSON MIN_CASES RESULT

Counts the test cases Schemathesis generated for each operation of SPEC (every phase; the
coverage phase's requests with a method the path does not declare are counted apart), and the
cases a check failed on; checks that the total is the one Schemathesis reports. Prints one line
an operation and `schemathesis: N operations, M cases, F failures`; writes `PASSED FAILED` and
that line to RESULT, an operation counting as passed when it has at least MIN_CASES cases and no failure, and
anything not tied to one operation (a run error, a count that does not add up) as one more failed.
Exits non-zero unless everything passed.
"""

import json
import sys
from collections import Counter

import yaml

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def main() -> int:
    spec_path, ndjson_path, json_path, min_cases, result_path = sys.argv[1:6]
    min_cases = int(min_cases)
    with open(spec_path, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    operations = [
        f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item if method in METHODS
    ]
    cases, failed_cases, errors, elsewhere = Counter(), Counter(), Counter(), Counter()
    failed_elsewhere, problems, seen = 0, [], set()
    with open(ndjson_path, encoding="utf-8") as f:
        for line in f:
            event = json.loads(line)
            (kind, body), = event.items()
            if kind in ("NonFatalError", "FatalError"):
                label = body.get("label") or "the run"
                value = body.get("value") or body.get("exception") or {}
                message = f"error in {label} ({body.get('phase')}): {value.get('type')}: {value.get('message')}"
                if label in operations:
                    errors[label] += 1
                    print(f"  {message}")
                else:
                    problems.append(message)
                continue
            if kind != "ScenarioFinished":
                continue
            recorder = body["recorder"]
            for case_id, node in recorder.get("cases", {}).items():
                if case_id in seen:
                    continue
                seen.add(case_id)
                case = node["value"]
                label = f"{case['method'].upper()} {case['path']}"
                failed = any(check["status"] == "failure" for check in recorder.get("checks", {}).get(case_id, []))
                if label in operations:
                    cases[label] += 1
                    failed_cases[label] += failed
                else:
                    elsewhere[label] += 1
                    failed_elsewhere += failed
    with open(json_path, encoding="utf-8") as f:
        report = json.load(f)
    reported = report["test_cases"]["generated"]
    counted = sum(cases.values()) + sum(elsewhere.values())
    if counted != reported:
        problems.append(f"the reports disagree: {counted} cases recorded, {reported} reported")
    if report.get("exit_code") not in (0, None) and not (problems or failed_elsewhere or +failed_cases or +errors):
        problems.append(f"Schemathesis exited {report.get('exit_code')}")

    passed = 0
    for label in operations:
        ok = cases[label] >= min_cases and failed_cases[label] == 0 and errors[label] == 0
        passed += ok
        note = "" if cases[label] >= min_cases else f"  (fewer than {min_cases})"
        note += f"  ({errors[label]} errors)" if errors[label] else ""
        print(f"  {label}: {cases[label]} cases, {failed_cases[label]} failing{note}")
    if elsewhere:
        print(
            f"  undeclared methods ({len(elsewhere)} method and path pairs, expected 404):"
            f" {sum(elsewhere.values())} cases, {failed_elsewhere} failing"
        )
    for problem in problems:
        print(f"  {problem}")
    failed = len(operations) - passed + (1 if failed_elsewhere or problems else 0)
    failures = sum(failed_cases.values()) + sum(errors.values()) + failed_elsewhere + len(problems)
    line = f"schemathesis: {len(operations)} operations, {reported} cases, {failures} failures"
    print(line)
    with open(result_path, "w", encoding="utf-8") as f:
        f.write(f"{passed} {failed}\n{line}\n")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
