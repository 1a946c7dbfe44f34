-- wrk script: POST bodies read from a file (records separated by \30), in rotation,
-- and print the summary as one JSON line.
local bodies = {}
local index = 0
local key = os.getenv("BENCH_KEY") or ""
local ctype = os.getenv("BENCH_CTYPE") or "application/json"
local path = os.getenv("BENCH_PATH") or "/v1/logs"

function init(args)
  local f = assert(io.open(args[1], "rb"))
  local data = f:read("*a")
  f:close()
  if data:sub(1, 7) == "FRAMED\n" then
    -- binary bodies (snappy protobuf) may hold any byte: records are "<length>\n<bytes>"
    local pos = 8
    while pos <= #data do
      local nl = data:find("\n", pos, true)
      local n = tonumber(data:sub(pos, nl - 1))
      table.insert(bodies, data:sub(nl + 1, nl + n))
      pos = nl + n + 1
    end
  else
    for chunk in string.gmatch(data, "([^\30]+)") do
      table.insert(bodies, chunk)
    end
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
