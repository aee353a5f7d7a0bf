"""Benchmark: the registry service under load on loopback, bounded and self-stopping.

    python benchmarks/service_load.py                       # SQLite, 50 downloaders + 5 uploaders for 60 s
    python benchmarks/service_load.py --db postgresql+psycopg://postgres@127.0.0.1:54329/postgres
    python benchmarks/service_load.py --seconds 20 --downloaders 10

One `synthgov serve` process (uvicorn, one worker) on 127.0.0.1 with a fresh database and store; the clients are
threads of this process (httpx), so they share the machine's cores with the server. Before the clock starts: an
owner, the consumers, one release of 1,000 Adult rows shared with every consumer, and a pool of distinct signed
releases for the uploaders (each upload is a new release). During the run every downloader loops on `GET
/releases/{id}/download` (each answer is a fresh copy marked for its recipient and signed by the service) and every
uploader on `POST /releases`. Afterwards it checks: no error status; every downloaded copy's data file has the
digest its signed manifest states, and a sample of copies verify with the service's key (`synthgov verify`); one
audit entry per successful action; the chain verifies. It prints p50/p95 latency and throughput per action.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT.parent / "shared" / "datasets" / "adult" / "train.csv"


def _adult():
    import pandas as pd

    if DATA.exists():
        return pd.read_csv(DATA)
    from synthgov import load_demo

    return load_demo("adult", "train")


def make_releases(issuer_home: Path, folder: Path, sizes: list[int]) -> list[Path]:
    """Distinct signed releases (copula, ``sizes[k]`` rows each) by the issuer whose home is given."""
    import synthgov.pipeline as pipeline

    os.environ["SYNTHGOV_HOME"] = str(issuer_home)
    table = _adult().head(5000)
    folders = []
    for k, rows in enumerate(sizes):
        out = folder / f"release-{k}"
        pipeline.generate(table, generator="copula", rows=rows, seed=k, out=out)
        folders.append(out)
    return folders


def zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(args: list[str], home: Path) -> str:
    env = {**os.environ, "SYNTHGOV_HOME": str(home)}
    done = subprocess.run([sys.executable, "-m", "synthgov", *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"synthgov {' '.join(args)}: {done.stderr[-1000:]}")
    return done.stdout.strip()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--downloaders", type=int, default=50)
    parser.add_argument("--uploaders", type=int, default=5)
    parser.add_argument("--pool", type=int, default=200, help="distinct releases (200 rows) for the uploaders")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import httpx

    scratch = Path(tempfile.mkdtemp(prefix="synthgov-load-"))
    issuer, service = scratch / "issuer", scratch / "service"
    db = args.db or f"sqlite:///{scratch / 'registry.db'}"
    if db.startswith("postgresql"):  # a fresh database on that server
        from sqlalchemy import create_engine, text

        name = f"load_{int(time.time())}"
        admin = create_engine(db, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        db = db.rsplit("/", 1)[0] + "/" + name
    print(f"preparing {args.pool + 1} releases ...", flush=True)
    releases = make_releases(issuer, scratch / "releases", [1000] + [200] * args.pool)
    bodies = [zipped(folder) for folder in releases]
    consumers = [f"consumer{i}" for i in range(args.downloaders)]
    cli(["users", "add", "owner", "--role", "owner", "--public-key", str(issuer / "keys" / "signing.pub.pem"),
         "--db", db], service)  # fmt: skip
    cli(["users", "add", "auditor", "--role", "auditor", "--db", db], service)
    tokens = {"owner": cli(["tokens", "create", "owner", "--db", db], service)}
    tokens["auditor"] = cli(["tokens", "create", "auditor", "--db", db], service)
    for name in consumers:
        cli(["users", "add", name, "--role", "consumer", "--db", db], service)
        tokens[name] = cli(["tokens", "create", name, "--db", db], service)
    port = free_port()
    env = {**os.environ, "SYNTHGOV_HOME": str(service)}
    server = subprocess.Popen(
        [sys.executable, "-m", "synthgov", "serve", "--db", db, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{url}/api/v1/me", headers={"Authorization": f"Bearer {tokens['owner']}"})
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        owner = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens['owner']}"}, timeout=600)
        first = owner.post("/api/v1/releases", content=bodies[0], headers={"Content-Type": "application/zip"})
        first.raise_for_status()
        shared_id = first.json()["id"]
        for name in consumers:
            owner.post(f"/api/v1/releases/{shared_id}/shares", json={"user": name}).raise_for_status()
        results = run_load(url, tokens, consumers, shared_id, bodies[1:], args.seconds, args.uploaders)
        report = check(url, tokens, results, scratch, service)
    finally:
        server.terminate()
        server.wait(timeout=30)
    report.update({"database": "postgresql" if db.startswith("postgresql") else "sqlite", "seconds": args.seconds,
                   "downloaders": args.downloaders, "uploaders": args.uploaders})  # fmt: skip
    print_table(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def run_load(url, tokens, consumers, shared_id, pool, seconds, uploaders) -> dict:
    import httpx

    stop_at = time.monotonic() + seconds
    lock = threading.Lock()
    results: dict = {"download": [], "upload": [], "errors": [], "copies": []}
    queue = list(pool)

    def downloader(name: str) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens[name]}"}, timeout=600) as c:
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                response = c.get(f"/api/v1/releases/{shared_id}/download")
                elapsed = time.perf_counter() - started
                with lock:
                    if response.status_code == 200:
                        results["download"].append(elapsed)
                        results["copies"].append(response.content)
                    else:
                        results["errors"].append(("download", response.status_code, response.text[:200]))

    def uploader() -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens['owner']}"}, timeout=600) as c:
            while time.monotonic() < stop_at:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                started = time.perf_counter()
                response = c.post("/api/v1/releases", content=body, headers={"Content-Type": "application/zip"})
                elapsed = time.perf_counter() - started
                with lock:
                    if response.status_code == 201:
                        results["upload"].append(elapsed)
                    else:
                        results["errors"].append(("upload", response.status_code, response.text[:200]))

    threads = [threading.Thread(target=downloader, args=(n,)) for n in consumers]
    threads += [threading.Thread(target=uploader) for _ in range(uploaders)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results["wall_s"] = time.monotonic() - started
    results["pool_left"] = len(queue)
    return results


def check(url, tokens, results, scratch: Path, service_home: Path) -> dict:
    """Every copy whole (its data's digest is the one its signed manifest states), a sample verified with the
    service's key, one audit entry per successful action, and the chain intact."""
    import httpx

    auditor = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens['auditor']}"}, timeout=600)
    corrupted = 0
    public = scratch / "service.pem"
    public.write_text(auditor.get("/api/v1/service/public-key").text)
    for index, content in enumerate(results["copies"]):
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
            manifest = json.loads(archive.read(next(n for n in names if n.endswith("manifest.json"))))
            data = archive.read(next(n for n in names if n.endswith("synthetic.parquet")))
            stated = manifest["statement"]["subject"][0]["digest"]["sha256"]
            corrupted += hashlib.sha256(data).hexdigest() != stated
            if index % max(1, len(results["copies"]) // 5) == 0:  # five copies verified end to end
                folder = scratch / f"copy-{index}"
                archive.extractall(folder)
                cli(["verify", str(next(folder.iterdir())), "--public-key", str(public)], service_home)
    entries, after = [], 0
    while batch := auditor.get("/api/v1/audit", params={"after": after, "limit": 1000}).json():
        entries += batch
        after = batch[-1]["seq"]
    chain = auditor.get("/api/v1/audit/verify").json()
    counted = {a: sum(e["action"] == a for e in entries) for a in ("download", "upload")}
    return {
        "downloads": len(results["download"]),
        "uploads": len(results["upload"]),
        "errors": len(results["errors"]),
        "error_samples": results["errors"][:5],
        "corrupted_copies": corrupted,
        "audit_downloads": counted["download"],
        "audit_uploads": counted["upload"] - 1,  # the shared release's upload was before the clock
        "chain_valid": chain["valid"],
        "wall_s": results["wall_s"],
        "download_p50_s": percentile(results["download"], 0.5),
        "download_p95_s": percentile(results["download"], 0.95),
        "upload_p50_s": percentile(results["upload"], 0.5),
        "upload_p95_s": percentile(results["upload"], 0.95),
        "downloads_per_s": len(results["download"]) / results["wall_s"],
        "uploads_per_s": len(results["upload"]) / results["wall_s"],
        "pool_left": results["pool_left"],
        "mean_download_s": statistics.fmean(results["download"]) if results["download"] else float("nan"),
    }


def print_table(r: dict) -> None:
    print()
    print(f"registry under load on loopback ({r['database']}): {r['downloaders']} downloaders + {r['uploaders']} "
          f"uploaders for {r['seconds']:.0f} s (wall {r['wall_s']:.1f} s)")  # fmt: skip
    print("| action | done | per s | p50 (s) | p95 (s) | audit entries |")
    print("|---|---|---|---|---|---|")
    print(f"| download (a marked, signed copy) | {r['downloads']} | {r['downloads_per_s']:.2f} | "
          f"{r['download_p50_s']:.2f} | {r['download_p95_s']:.2f} | {r['audit_downloads']} |")  # fmt: skip
    print(f"| upload (verified, stored) | {r['uploads']} | {r['uploads_per_s']:.2f} | {r['upload_p50_s']:.2f} | "
          f"{r['upload_p95_s']:.2f} | {r['audit_uploads']} |")  # fmt: skip
    samples = r["error_samples"] if r["errors"] else ""
    print(f"errors: {r['errors']} {samples}; corrupted copies: {r['corrupted_copies']}; audit chain valid: "
          f"{r['chain_valid']}; upload pool left: {r['pool_left']}")  # fmt: skip


if __name__ == "__main__":
    main()
