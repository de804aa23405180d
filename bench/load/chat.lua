-- wrk script: POSTs a ~1 KB OpenAI chat body and prints a JSON summary line at the end.
-- BENCH_MODEL picks the route (bench-json or bench-sse); BENCH_STREAM=1 asks for a stream.
local model = os.getenv("BENCH_MODEL") or "bench-json"
local stream = os.getenv("BENCH_STREAM") == "1"
local key = os.getenv("BENCH_KEY") or "sw-bench-key-0001"

local filler = string.rep("The quick brown fox jumps over the lazy dog. ", 18)
local max_tokens = os.getenv("BENCH_MAX_TOKENS") or "64"
local body = '{"model":"' .. model .. '","max_tokens":' .. max_tokens .. ',' ..
  (stream and '"stream":true,"stream_options":{"include_usage":true},' or '') ..
  '"messages":[{"role":"system","content":"You are a concise assistant."},' ..
  '{"role":"user","content":"' .. filler .. '"}]}'

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. key
-- Portkey reads its target from headers; other proxies ignore these.
local portkey_host = os.getenv("BENCH_PORTKEY_HOST")
if portkey_host then
  wrk.headers["x-portkey-provider"] = "openai"
  wrk.headers["x-portkey-custom-host"] = portkey_host
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"non2xx":%d,"connect":%d,' ..
    '"read":%d,"write":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"mean_us":%.1f,' ..
    '"body_bytes":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, #body))
end
