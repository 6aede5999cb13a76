"""What Roundhouse reads from the GPU, next to what nvidia-smi says, on a machine with a real driver.

    .venv/bin/python bench/nvml_check.py                 # reads NVML in this process, as the daemon does
    .venv/bin/python bench/nvml_check.py --daemon URL    # asks a running daemon's control API instead

For each GPU it prints total / used / free / reserved memory and utilization from both
sources, and the per-process usage, with the difference in MiB. Memory figures normally
agree to within a few MiB (nvidia-smi rounds to MiB; used memory moves between the reads).
The exit status is 0 when every memory figure agrees within --tolerance-mib, 1 when one
does not, and 2 when there is nothing to compare (no NVIDIA driver or no nvidia-smi).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import shutil
import subprocess
import sys
from typing import Any

import httpx

from roundhouse.daemon.residency.manager import ResidencyManager
from roundhouse.daemon.residency.readers import detect_reader
from roundhouse.daemon.residency.settings import ResidencySettings

MIB = 1024**2


def smi_rows(query: str, fields: str) -> list[list[str]]:
    done = subprocess.run(
        ["nvidia-smi", f"--query-{query}={fields}", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
        check=True,
    )
    return [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(done.stdout)) if row]


def smi_reading() -> dict[str, Any]:
    fields = "index,uuid,name,memory.total,memory.used,memory.free,memory.reserved,utilization.gpu"
    try:
        gpus = smi_rows("gpu", fields)
    except subprocess.CalledProcessError:  # drivers before R510 know no memory.reserved
        gpus = [[*r[:6], "", r[6]] for r in smi_rows("gpu", fields.replace("memory.reserved,", ""))]
    apps = smi_rows("compute-apps", "gpu_uuid,pid,process_name,used_memory")
    by_uuid = {row[1]: int(row[0]) for row in gpus}
    return {
        "gpus": [
            {
                "index": int(r[0]),
                "name": r[2],
                "total": int(r[3]) * MIB,
                "used": int(r[4]) * MIB,
                "free": int(r[5]) * MIB,
                "reserved": int(r[6]) * MIB if r[6].isdigit() else None,
                "util": int(r[7]) if r[7].isdigit() else None,
            }
            for r in gpus
        ],
        "processes": [
            {
                "gpu": by_uuid.get(r[0], -1),
                "pid": int(r[1]),
                "name": r[2],
                "used": int(r[3]) * MIB if r[3].isdigit() else None,
            }
            for r in apps
        ],
    }


async def roundhouse_reading(daemon_url: str | None) -> dict[str, Any]:
    if daemon_url:
        async with httpx.AsyncClient(base_url=daemon_url, timeout=30) as client:
            response = await client.get("/control/v1/residency")
            response.raise_for_status()
            return dict(response.json())
    manager = ResidencyManager(ResidencySettings(), detect_reader(), backends=dict)
    try:
        return await manager.status()
    finally:
        await manager.stop()


def mib(value: int | None) -> str:
    return "-" if value is None else f"{value / MIB:,.0f}"


def compare(ours: dict[str, Any], smi: dict[str, Any], tolerance_mib: float) -> bool:
    agree = True
    print(f"{'GPU':<4}{'figure':<12}{'roundhouse MiB':>16}{'nvidia-smi MiB':>16}{'diff MiB':>10}")
    smi_gpus = {g["index"]: g for g in smi["gpus"]}
    for gpu in ours["gpus"]:
        theirs = smi_gpus.get(gpu["index"])
        if theirs is None:
            print(f"{gpu['index']:<4}missing from nvidia-smi")
            agree = False
            continue
        print(f"{gpu['index']:<4}{gpu['name']}  |  nvidia-smi: {theirs['name']}")
        pairs = [
            ("total", gpu["total_bytes"], theirs["total"]),
            ("used", gpu["used_bytes"], theirs["used"]),
            ("free", gpu["free_bytes"], theirs["free"]),
            ("reserved", gpu["reserved_bytes"], theirs["reserved"]),
        ]
        for label, a, b in pairs:
            diff = None if b is None else (a - b) / MIB
            flag = "" if diff is None or abs(diff) <= tolerance_mib else "  <-- differs"
            agree = agree and not flag
            shown = "-" if diff is None else f"{diff:+.0f}"
            print(f"{'':<4}{label:<12}{mib(a):>16}{mib(b):>16}{shown:>10}{flag}")
        print(f"{'':<4}{'util %':<12}{gpu['utilization_pct']!s:>16}{theirs['util']!s:>16}")
        print(
            f"{'':<4}by roundhouse {mib(gpu['used_by_roundhouse_bytes'])} MiB, "
            f"by other apps {mib(gpu['used_by_others_bytes'])} MiB"
        )
        smi_procs = {p["pid"]: p for p in smi["processes"] if p["gpu"] == gpu["index"]}
        for proc in gpu["processes"]:
            other = smi_procs.pop(proc["pid"], None)
            print(
                f"{'':<4}pid {proc['pid']:<8}{proc['name'][:24]:<26}{mib(proc['used_bytes']):>10} MiB"
                f"  nvidia-smi {mib(other['used']) if other else 'absent'}"
            )
        for pid, other in smi_procs.items():
            name = other["name"][:24]
            print(f"{'':<4}pid {pid:<8}{name:<26}{'absent':>10}      nvidia-smi {mib(other['used'])}")
    return agree


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--daemon", metavar="URL", help="read a running daemon's control API instead")
    parser.add_argument("--tolerance-mib", type=float, default=64.0)
    args = parser.parse_args()
    ours = asyncio.run(roundhouse_reading(args.daemon))
    print(f"roundhouse source: {ours['source']} — {ours['detail']}")
    print(f"capacity for models: {mib(ours['capacity_bytes'])} MiB")
    if ours["source"] != "nvml":
        print("no NVML reading here: nothing to compare with nvidia-smi")
        return 2
    if shutil.which("nvidia-smi") is None:
        print("nvidia-smi is not on PATH: nothing to compare with")
        return 2
    agree = compare(ours, smi_reading(), args.tolerance_mib)
    print("all memory figures agree" if agree else "some memory figures differ")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
