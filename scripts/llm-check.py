#!/usr/bin/env python3
"""One real chat request against scripts/llm-server.sh, then stop it.

Exit 0 when the model answered; 1 with the reason on stderr otherwise (a server killed by
SIGILL is named: llama.cpp was compiled for CPU features this machine does not execute).
scripts/setup.sh runs it right after installing llama-cpp-python, so a bad build fails there
and not in the middle of the test suite.
"""
import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
STARTUP_S = 120


def fail(msg):
    print(f"llm-check: {msg}", file=sys.stderr)
    sys.exit(1)


def died(proc):
    code = proc.poll()
    if code is None:
        return None
    if code == -signal.SIGILL or code == 128 + signal.SIGILL:
        return "the model server died of SIGILL (Illegal instruction): llama.cpp uses CPU features this machine lacks"
    return f"the model server exited with {code}"


def first_line(proc):
    """The server's URL line, or "" once the server died or STARTUP_S passed."""
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline and proc.poll() is None:
        if select.select([proc.stdout], [], [], 0.2)[0]:
            return proc.stdout.readline().strip()
    return ""


def main():
    log = os.environ.get("LLM_SERVER_LOG") or os.path.join("/tmp", f"llm-check.{os.getpid()}.log")
    env = dict(os.environ, LLM_SERVER_LOG=log)
    proc = subprocess.Popen(["bash", os.path.join(HERE, "llm-server.sh")], stdout=subprocess.PIPE,
                            env=env, start_new_session=True, text=True)
    try:
        base = first_line(proc)
        if not base.startswith("http://127.0.0.1:"):
            fail(f"{died(proc) or 'scripts/llm-server.sh printed no URL'}; server log: {log}")
        body = json.dumps({"messages": [{"role": "user", "content": "Say OK."}], "max_tokens": 8}).encode()
        req = urllib.request.Request(f"{base}/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
        start = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=STARTUP_S) as r:
                answer = json.load(r)
        except Exception as e:  # connection reset when the server dies mid-request
            time.sleep(0.5)
            fail(f"{died(proc) or 'the chat request failed'} ({e}); server log: {log}")
        text = answer.get("choices", [{}])[0].get("message", {}).get("content")
        if text is None:
            fail(f"no answer in {answer}")
        print(f"llm-check: the model answered {text.strip()[:40]!r} in {time.monotonic() - start:.2f} s")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        proc.wait()


if __name__ == "__main__":
    main()
