-- wrk script: POST bodies read from a file (records separated by \30), in rotation,
-- and print the summary as one JSON line.
local bodies = {}
local index = 0
local key = os.getenv("BENCH_KEY") or ""
local ctype = os.getenv("BENCH_CTYPE") or "application/json"
local path = os.getenv("BENCH_PATH") or "/v1/logs"

-- BENCH_RATE (requests/s over all threads) paces the load: each thread hands out send
-- slots at a fixed interval (an open loop), instead of sending as fast as answers come.
local rate = tonumber(os.getenv("BENCH_RATE") or "")
local threads = tonumber(os.getenv("BENCH_THREADS") or "2")
local interval_ms = rate and (1000 * threads / rate) or nil
local next_ms = nil
local ffi = require("ffi")
ffi.cdef[[
  typedef struct { long tv_sec; long tv_nsec; } timespec_t;
  int clock_gettime(int clk, timespec_t *tp);
]]
local ts = ffi.new("timespec_t")
local function now_ms()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

function delay()
  if not interval_ms then
    return 0
  end
  local now = now_ms()
  -- Behind schedule, catch up (send at once), but never by more than a second's worth.
  if next_ms == nil or next_ms < now - 1000 then
    next_ms = now
  end
  local wait = next_ms - now
  next_ms = next_ms + interval_ms
  return wait > 0 and math.floor(wait) or 0
end

function init(args)
  local f = assert(io.open(args[1], "rb"))
  local data = f:read("*a")
  f:close()
  for chunk in string.gmatch(data, "([^\30]+)") do
    table.insert(bodies, chunk)
  end
  index = math.random(#bodies)
end

function request()
  index = index % #bodies + 1
  return wrk.format("POST", path, {["Authorization"] = "Bearer " .. key, ["Content-Type"] = ctype}, bodies[index])
end

function done(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "status_errors": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
