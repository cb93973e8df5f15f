# A stand-in OpenAI-compatible server on loopback: answers every chat with "cannot tell"
# (no processes) and no usage, so the client's own cl100k estimate is what is recorded.
import json, sys, http.server
log = open(sys.argv[2], "a")
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("content-length", 0)); body = self.rfile.read(n)
        log.write(json.dumps({"path": self.path, "bytes": len(body)}) + "\n"); log.flush()
        content = json.dumps({"apps": [{"subdir": "", "language": "unknown", "processes": [], "rationale": "measure"}]})
        out = json.dumps({"id": "x", "object": "chat.completion", "choices": [{"index": 0, "finish_reason": "stop",
              "message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(200); self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out))); self.end_headers(); self.wfile.write(out)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
