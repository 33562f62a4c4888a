"""Long computations release the GIL and stop on Ctrl-C (SIGINT) within a second or two."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import gstarve

# Each call runs for many seconds uninterrupted (far longer than the test waits).
LONG_CALLS = {
    # A single computation on the calling thread: 3·10⁸ GD steps (~10 s), 1001 recorded.
    "gd": "gstarve.System.rotation((4, 2), 0.5).simulate(methods=['gd'], eta=0.05, "
    "steps=300_000_000, points=1001, fixed_point=False)",
    # A sweep on rayon's threads: a τ₉₀ flow per grid point, 1200² of them (≈ 7 s on two idle
    # cores; 400² took under a second once the flows ran 32 lanes wide, and finished before
    # the signal).
    "phase_diagram": "gstarve.phase_diagram('tau90', grid=1200)",
}


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT is POSIX")
@pytest.mark.parametrize("name", sorted(LONG_CALLS))
def test_ctrl_c_interrupts_a_long_computation(name):
    code = textwrap.dedent(
        f"""
        import time, gstarve
        print("ready", flush=True)
        try:
            {LONG_CALLS[name]}
            print("finished", flush=True)
        except KeyboardInterrupt:
            print("interrupted", time.monotonic(), flush=True)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.7)  # inside the computation
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    words = out.split()
    assert words and words[0] == "interrupted", (out, err)
    latency = float(words[1]) - sent  # CLOCK_MONOTONIC is shared by processes
    assert latency < 2.0, latency
    assert child.returncode == 0, err


def test_the_gil_is_released_during_a_computation():
    done = threading.Event()

    def work():
        gstarve.System.rotation((4, 2), 0.5).simulate(
            methods=["gd"], eta=0.05, steps=10_000_000, points=11, fixed_point=False
        )
        done.set()

    worker = threading.Thread(target=work)
    started = time.perf_counter()
    worker.start()
    ticks = 0
    while not done.is_set():
        ticks += 1
        time.sleep(0.001)
    worker.join()
    elapsed = time.perf_counter() - started
    # The main thread kept running during the computation. With the GIL held it would get at
    # most the few ticks before the worker enters Rust; released, it ticks throughout. The count
    # is absolute, not a rate, so a loaded machine (a sleep of 1 ms taking 5) cannot fail it.
    assert elapsed > 0.1, "the computation was too short to tell"
    assert ticks >= 20, (ticks, elapsed)
