"""Run every benchmark whose database is reachable; each prints DataFlow against its raw driver."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHMARKS = {
    "bench_sqlite.py": "dataflow_sqlite",
    "bench_postgres.py": "dataflow_postgres",
    "bench_mysql.py": "dataflow_mysql",
    "bench_query.py": "dataflow",  # each backend of its own whose package is installed
    "bench_gateway.py": "dataflow_gateway",
    "bench_replicas.py": "dataflow_postgres",  # starts its own primary and two replicas
    "bench_replicas_mariadb.py": "dataflow_mysql",  # starts its own MariaDB primary and replica
}


def main() -> int:
    failed = 0
    for script, package in BENCHMARKS.items():
        if not (HERE / script).exists() or importlib.util.find_spec(package) is None:
            print(f"skipping {script}: {package} is not installed")
            continue
        print(f"=== {script}", flush=True)
        failed += subprocess.run([sys.executable, str(HERE / script), *sys.argv[1:]], check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
