-- wrk script: POST the JSON body from $BENCH_BODY on every request; print one JSON result.
local file = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = file:read("*a")
file:close()

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH-RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"mean_us": %.1f, "max_us": %d, "errors": %d}\n',
    summary.requests, summary.duration,
    latency:percentile(50.0), latency:percentile(99.0), latency.mean, latency.max,
    e.connect + e.read + e.write + e.status + e.timeout))
end
