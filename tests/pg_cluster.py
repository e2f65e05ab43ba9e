"""A throw-away PostgreSQL server for the tests and benchmarks: Debian's `postgresql` binaries,
a cluster in a temporary folder, reached by a Unix socket only (no TCP port, no network).

`ORIENTA_TEST_PG` set to a URL uses that server instead (each test still gets a database of
its own). As root (CI), the cluster runs as the `postgres` user, since PostgreSQL refuses
root. `Cluster.start()` returns None, with the reason, where no server can be started; the
caller says so loudly (and `ORIENTA_REQUIRE_PG=1` makes that a failure).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

_names = itertools.count(1)


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class Cluster:
    url: str  # the maintenance database: new databases are made from here
    folder: Path | None = None  # ours to stop and delete (None: a server given by ORIENTA_TEST_PG)
    _run_as: list[str] = field(default_factory=list)
    _bin: Path | None = None

    @classmethod
    def start(cls) -> tuple[Cluster | None, str]:
        given = os.environ.get("ORIENTA_TEST_PG")
        if given:
            return cls(given), f"PostgreSQL given by ORIENTA_TEST_PG ({given.split('@')[-1]})"
        binaries = _binaries()
        if binaries is None:
            return None, "no PostgreSQL server is installed (Debian: apt install postgresql)"
        run_as: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return None, "running as root with no `postgres` user to run the server as"
            run_as = ["runuser", "-u", "postgres", "--"]
        folder = Path(tempfile.mkdtemp(prefix="orienta-pg-"))
        if run_as:
            shutil.chown(folder, "postgres")
        data = folder / "data"
        try:
            subprocess.run([*run_as, str(binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                            "--no-sync", "-E", "UTF8", "--locale=C"], check=True, capture_output=True, timeout=120)
            subprocess.run([*run_as, str(binaries / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l",
                            str(folder / "log"), "-o",
                            f"-c listen_addresses='' -k {folder} -c fsync=off -c synchronous_commit=off"
                            " -c full_page_writes=off -c max_connections=200",
                            "start"], check=True, capture_output=True, timeout=120)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            detail = (getattr(exc, "stderr", b"") or b"").decode(errors="replace").strip()[:300]
            shutil.rmtree(folder, ignore_errors=True)
            return None, f"the PostgreSQL server could not start ({detail or exc})"
        url = f"postgresql://postgres@/postgres?host={quote(str(folder), safe='')}"
        return cls(url, folder, run_as, binaries), f"PostgreSQL {binaries.parent.name} started in {folder}"

    def database(self) -> str:
        """A new, empty database: its URL."""
        import psycopg

        name = f"orienta_test_{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        base, _, query = self.url.partition("?")
        return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")

    def drop(self, url: str) -> None:
        import psycopg

        name = url.partition("?")[0].rsplit("/", 1)[1]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def restart(self) -> bool:
        """Restart the server (as an upgrade or a failover does): every connection to it is
        cut. False for a server given by ORIENTA_TEST_PG, which is not ours to restart."""
        if self.folder is None or self._bin is None:
            return False
        subprocess.run([*self._run_as, str(self._bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast",
                        "-w", "-t", "60", "-l", str(self.folder / "log"), "restart"],
                       check=True, capture_output=True, timeout=120)
        return True

    def stop(self) -> None:
        if self.folder is None or self._bin is None:
            return
        subprocess.run([*self._run_as, str(self._bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate",
                        "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)
